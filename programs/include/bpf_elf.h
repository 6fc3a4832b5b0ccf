/* bpf_elf.h — the legacy iproute2 map definition (iproute2 include/bpf_elf.h), declared here so
 * that iproute2-style programs build without iproute2's headers. Maps of this shape go in the
 * ELF section "maps"; tc's own loader reads them field by field. */
#ifndef XDPSIM_BPF_ELF_H
#define XDPSIM_BPF_ELF_H

#include <linux/types.h>

/* Object pinning settings */
#define PIN_NONE 0
#define PIN_OBJECT_NS 1
#define PIN_GLOBAL_NS 2

struct bpf_elf_map {
	__u32 type;
	__u32 size_key;
	__u32 size_value;
	__u32 max_elem;
	__u32 flags;
	__u32 id;
	__u32 pinning;
	__u32 inner_id;
	__u32 inner_idx;
};

#endif
