/**
 * registry — the live maps of one VM instance: creates a BpfMap from a MapSpec (with the kernel's
 * map_create checks), and resolves the handles programs pass to helpers, map ids (the user
 * API's names for inner maps) and map names. It also holds the program table PROG_ARRAY slots
 * refer to, so tail calls resolve to executables.
 */
import { LoadError, NotSupportedError } from '../errors.js';
import type { Memory } from '../vm/memory.js';
import type { Executable } from '../vm/program.js';
import { MapType, mapTypeName, type BpfMap, type MapSpec } from './spec.js';
import type { MapBase } from './base.js';
import type { DevmapHost } from './devmap.js';
import { MAP_CONSTRUCTORS } from './types.js';
import { sharedMapConstructor } from './shared-types.js';

/** RegistryOptions configures a registry. */
export interface RegistryOptions {
  /** Number of simulated (possible) CPUs: per-CPU maps keep this many copies. */
  cpus: number;
  /** Tells DEVMAP/DEVMAP_HASH updates whether an interface exists (the datapath's interfaces); absent: any ifindex. */
  ifindexExists?: (ifindex: number) => boolean;
}

/** ProgramSlot is a program PROG_ARRAY slots can hold: a name, an id, and its executable once prepared. */
export interface ProgramSlot {
  readonly id: number;
  readonly name: string;
  /** Set through MapRegistry.registerProgram only (it bumps tailCallVersion). */
  readonly exe: Executable | undefined;
}

/** MutableProgramSlot is the registry's own view of a ProgramSlot. */
interface MutableProgramSlot {
  readonly id: number;
  readonly name: string;
  exe: Executable | undefined;
}

/** MapRegistry owns every map of one VM instance. */
export class MapRegistry implements DevmapHost {
  readonly cpus: number;
  ifindexExists?: (ifindex: number) => boolean;
  private readonly maps: MapBase[] = [];
  private readonly handles = new Map<number, MapBase>();
  private readonly programsByName = new Map<string, MutableProgramSlot>();
  private readonly programsById = new Map<number, MutableProgramSlot>();
  /**
   * tailCallVersion changes whenever what a tail call through any of these maps resolves to may
   * change: a map created (a handle that resolved to nothing now names a map), a program
   * registered or given an executable, a PROG_ARRAY slot set or cleared (tailCallsChanged).
   * Tail-call resolvers cache their results behind it (helpers/tail-call.ts).
   */
  tailCallVersion = 0;

  constructor(
    readonly mem: Memory,
    opts: RegistryOptions,
  ) {
    if (!Number.isInteger(opts.cpus) || opts.cpus < 1 || opts.cpus > 1024) {
      throw new RangeError(`map registry: cpus must be an integer in [1, 1024], got ${opts.cpus}`);
    }
    this.cpus = opts.cpus;
    this.ifindexExists = opts.ifindexExists;
  }

  /**
   * create makes a live map from a spec. It throws LoadError (code E_MAP_CREATE, fields.errno the
   * kernel's negative errno) for specs the kernel refuses, NotSupportedError (E_MAP_TYPE) for types xdpsim
   * does not implement, and LoadError E_MAP_NAME for a duplicate name.
   * Declarative slots (spec.initialSlots) are applied: program names for PROG_ARRAY (resolved at
   * tail-call time), map names for map-in-map (those maps must exist already).
   */
  create(spec: MapSpec): MapBase {
    if (this.byName(spec.name) !== undefined) {
      throw new LoadError('E_MAP_NAME', `map ${spec.name}: a map with this name already exists`, { symbol: spec.name });
    }
    // A shared-mode Memory (replay --workers) takes the shared implementations (maps/shared-types.ts).
    const ctor = this.mem.shared !== undefined ? sharedMapConstructor(spec) : MAP_CONSTRUCTORS.get(spec.type);
    if (ctor === undefined) {
      const known = Object.values(MapType).includes(spec.type as MapType);
      if (!known) {
        throw new LoadError('E_MAP_CREATE', `map ${spec.name}: unknown map type ${spec.type}`, {
          symbol: spec.name,
          mapType: spec.type,
          errno: -22,
        });
      }
      throw new NotSupportedError('E_MAP_TYPE', `map ${spec.name}: map type ${mapTypeName(spec.type)} is not supported`, {
        symbol: spec.name,
        mapType: spec.type,
      });
    }
    const map = ctor(this, spec, this.maps.length + 1);
    if (spec.initialSlots !== undefined) {
      for (const slot of spec.initialSlots) {
        const err = map.setSlotRef(slot.index, slot.ref);
        if (err !== undefined) {
          throw new LoadError('E_MAP_SLOT', `map ${spec.name}: slot ${slot.index} = ${slot.ref}: ${err}`, {
            symbol: spec.name,
            index: slot.index,
          });
        }
      }
    }
    this.maps.push(map);
    this.handles.set(map.handle, map);
    this.tailCallVersion++;
    return map;
  }

  /** byHandle resolves the value a program holds for a map (see spec.ts). */
  byHandle(addr: number): MapBase | undefined {
    return this.handles.get(addr);
  }

  /** byName finds a map by name. */
  byName(name: string): MapBase | undefined {
    return this.maps.find((m) => m.spec.name === name);
  }

  /** byId finds a map by id (1-based, in creation order). */
  byId(id: number): MapBase | undefined {
    return this.maps[id - 1];
  }

  /** mapById is the MapHost view of byId. */
  mapById(id: number): MapBase | undefined {
    return this.byId(id);
  }

  /** all lists every map in creation order. */
  all(): BpfMap[] {
    return [...this.maps];
  }

  /** allMaps lists every map with its full API. */
  allMaps(): MapBase[] {
    return [...this.maps];
  }

  /**
   * registerProgram makes a program known to PROG_ARRAY slots: by name, with an id (returned)
   * that the user API stores in slots, and its executable (which may come later).
   */
  registerProgram(name: string, exe?: Executable): number {
    this.tailCallVersion++;
    const have = this.programsByName.get(name);
    if (have !== undefined) {
      if (exe !== undefined) have.exe = exe;
      return have.id;
    }
    const slot: MutableProgramSlot = { id: this.programsByName.size + 1, name, exe };
    this.programsByName.set(name, slot);
    this.programsById.set(slot.id, slot);
    return slot.id;
  }

  /** tailCallsChanged is the MapHost hook PROG_ARRAY maps call on every slot change. */
  tailCallsChanged(): void {
    this.tailCallVersion++;
  }

  /** programByName returns a registered program. */
  programByName(name: string): ProgramSlot | undefined {
    return this.programsByName.get(name);
  }

  /** programById returns a registered program. */
  programById(id: number): ProgramSlot | undefined {
    return this.programsById.get(id);
  }
}
