/**
 * xdpsim — the library API. Explicit named exports only.
 */
export * from './errors.js';
export type { Insn, InsnIndex } from './isa/insn.js';
export { decodeInsns } from './isa/decode.js';
export { encodeInsns } from './isa/encode.js';
export { validateProgram, jumpTarget, VerifyCode, type ValidateOptions } from './isa/validate.js';
export { disasmInsn, disasmLines, disasmProgram, type DisasmLine, type DisasmOptions } from './isa/disasm.js';
export { mnemonic, opcodeInfo, OPCODE_TABLE, OpcodeKind, type OpcodeInfo } from './isa/mnemonic.js';
export { Memory, RegionKind, type Region } from './vm/memory.js';
export { CtxKind, CtxPlan, planFromPolicy, type CtxAccess, type CtxAccessPolicy, type CtxStoreHook } from './vm/ctx-plan.js';
export type { VmFault } from './vm/fault.js';
export type { Engine, Executable, ProgramSpec, RunEnv, RunResult, HelperImpl } from './vm/program.js';
export { assemble, AsmCode } from './isa/asm/index.js';
export { FaultCode, GuestFault, formatFault } from './vm/fault.js';
export { interpEngine } from './vm/interp.js';
export { getEngine, engineNames, DEFAULT_ENGINE } from './vm/engines.js';
export { createRunEnv, mapStack, STACK_REGION_BYTES, type RunEnvOptions } from './vm/run.js';
export { parseConformanceData, type ConformanceTest } from './conformance/data.js';
export { runConformanceDir, runConformanceFile, runConformanceTest, summaryLine, type Outcome, type Summary, type RunnerOptions } from './conformance/runner.js';
export { readCapture } from './io/capture.js';
export { readPcap, PcapWriter, type PcapWriterOptions } from './io/pcap.js';
export { readPcapng, PcapngWriter, type PcapngWriterOptions, type PcapngSectionOptions, type PcapngInterfaceOptions, type EpbOptions } from './io/pcapng.js';
export { CaptureReader, type CaptureFormat } from './io/reader.js';
export { frameTimeNs, EPB_VERDICT_TYPE, MAX_CAPLEN, type Frame, type FrameInput, type EpbVerdict, type CaptureInterface, type CaptureNote, type ReadOptions, type TsResolution } from './io/frames.js';
export { LINKTYPE, linkTypeName, SYNTHETIC_HOST_MAC, SYNTHETIC_PEER_MAC } from './io/linktype.js';
export type { CaptureSource } from './io/byte-source.js';
export type { CaptureTarget } from './io/sink.js';
export { loadObject, instantiate, prepareObject, readHostKconfig, GPL_ONLY_HELPERS, type LoadObjectOptions, type LoadedObject } from './object/instantiate.js';
export {
  parseObject,
  isGplCompatible,
  internalMapName,
  objectNameFromFile,
  LoaderCode,
  type ObjectSpec,
  type ObjectProgramSpec,
  type ParseOptions,
  type ProgramMapRef,
  type FunctionSpec,
  type GlobalVarSpec,
  type GlobalValue,
} from './object/loader.js';
export { sectionDef, ProgType, AttachType, type ProgramKind, type SectionDef } from './object/sections.js';
export { objectListing, programListing, type ListingOptions } from './object/listing.js';
export { ElfCode } from './object/elf.js';
export { BtfCode, BtfKind } from './object/btf/wire.js';
export type { LineInfo, FuncInfo } from './object/btf/ext.js';
export { XdpAction, XdpMd, XdpBuff, xdpActionName, xdpCtxPlan, xdpCtxPolicy, XDP_PACKET_HEADROOM } from './hooks/xdp.js';
export { SkBuff, SkBuffField, skbTcCtxPlan, skbTcCtxPolicy, sockCommonPlan, PacketType } from './hooks/skb.js';
export { TcAction, clsBpfAction, tcActionName } from './hooks/tc.js';
export { TestRunner, TestRunFlag, type TestRunInput, type TestRunOutput, type TestRunnerOptions } from './hooks/testrun.js';
export { XdpRunner, TcRunner, type XdpVerdict, type TcVerdict } from './hooks/run.js';
export { LOOPBACK, loopbackDatapath, type DatapathHooks, type NetDevice, type RedirectInfo, type FibLookupQuery, type FibLookupResult } from './hooks/datapath.js';
export { PACKET_HELPERS, packetHelperDefs, packetHelperMap } from './helpers/skb.js';
export { MapRegistry, type RegistryOptions, type ProgramSlot } from './maps/registry.js';
export { MapType, MapFlag, mapTypeName, BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK, PIN_NONE, PIN_BY_NAME, PIN_GLOBAL_NS, type MapSpec, type BpfMap, type MapErrno } from './maps/spec.js';
export { MapBase, type MapHost, type ForEachEntry } from './maps/base.js';
export { Errno, errnoName } from './maps/errno.js';
export { ArrayMap } from './maps/array.js';
export { HashMap } from './maps/hash.js';
export { LruHashMap } from './maps/lru-hash.js';
export { LpmTrieMap } from './maps/lpm-trie.js';
export { ProgArrayMap } from './maps/prog-array.js';
export { PerfEventArrayMap, type PerfRecord } from './maps/perf-event-array.js';
export { CgroupArrayMap } from './maps/cgroup-array.js';
export { ArrayOfMapsMap } from './maps/array-of-maps.js';
export { HashOfMapsMap } from './maps/hash-of-maps.js';
export { DevmapMap, DevmapHashMap } from './maps/devmap.js';
export { CpumapMap, type CpumapEntry } from './maps/cpumap.js';
export { XskmapMap } from './maps/xskmap.js';
export { QueueStackMap } from './maps/queue-stack.js';
export { RingbufMap, type RingbufRecord } from './maps/ringbuf.js';
export { bpftoolDump, dumpMap, dumpMaps, toHex, fromHex, type MapDump, type MapDumpEntry, type BpftoolEntry } from './maps/dump.js';
export { parseMapsJson, preloadMaps, preloadMap, clearMap } from './maps/preload.js';
export { saveMaps, restoreMaps, pinnedMaps, pinPath } from './maps/persist.js';
export { makeHelperTable, helperInfo, HELPER_DEFS, BpfProgType, type HelperDef, type HelperContext, type HelperTableOptions } from './helpers/table.js';
export { systemServices, deterministicServices, logTrace, type HelperServices, type TraceRecord, type DeterministicOptions } from './helpers/services.js';
export { makeTailCallResolver } from './helpers/tail-call.js';
export { helperName, HELPER_NAMES } from './helpers/ids.js';
export { KernelTestRunner, KernelError, findKtestBinary, KTEST_BINARY_ENV, type KernelAvailability, type KernelProgram, type KernelMap, type KernelObject, type KernelMapDump, type KernelMapEntry, type TestRunResult as KernelTestRunResult, type RunOptions as KernelRunOptions, type LoadRawOptions, type LoadObjectOptions as KernelLoadObjectOptions } from './kernel/testrun.js';
export { parseInterfaceSpec, buildInterfaces, formatMac, parseMac, type InterfaceSpec, type SimInterface } from './datapath/interfaces.js';
export { loadTopology, parseTopology, simpleTopology, fibLookup as topologyFibLookup, parseIp, parsePrefix, type Topology, type Route, type Neighbour, type AttachSpec } from './datapath/topology.js';
export { ProgramSet, parseProgramRef, type ProgramRef, type BoundProgram, type HookKind, type ProgramSetOptions } from './datapath/programs.js';
export { Pipeline, flowQueue, insertVlan, DEFAULT_MAX_HOPS, type Attachment, type PipelineOptions } from './datapath/pipeline.js';
export { Accounting, Disposition, DISPOSITIONS, type FrameResult, type HookRun, type OutFrame, type FaultCount } from './datapath/accounting.js';
export { buildDatapath, splitIface, type Datapath, type DatapathOptions, type HookFlags } from './datapath/setup.js';
export { runReplay, type ReplayOptions, type ReplayIo } from './cli/commands/replay.js';
