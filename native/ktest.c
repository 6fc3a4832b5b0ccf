/*
 * xdpsim-ktest — the bridge from xdpsim to the real kernel: loads eBPF programs and runs them with
 * BPF_PROG_TEST_RUN (bpf_prog_test_run_opts), so the test suite and the benchmark can compare
 * xdpsim with Linux packet by packet. Spawned once by src/kernel/testrun.ts and kept alive; it
 * speaks JSON Lines: one request object per line on stdin, one reply object per line on stdout,
 * in order. Every request may carry "id" (an integer echoed in the reply).
 *
 * Requests ("op" selects one; handles are small integers naming kernel objects this process holds):
 *   hello                         -> {ncpus}
 *   map_create   map_type (name as libbpf prints it, e.g. "array", or a number), key_size,
 *                value_size, max_entries, [name], [map_flags]                         -> {map}
 *   load_raw     insns (hex), prog_type ("xdp" | "sched_cls" | "sched_act" | number), [name],
 *                [maps: [map handle...]], [prog_flags], [expected_attach_type], [license]
 *                A lddw with src_reg = BPF_PSEUDO_MAP_FD (1) and imm = i is rewritten to the fd of
 *                maps[i] before loading, so callers never see file descriptors.   -> {prog, insn_cnt}
 *   load_object  path, [program (name or section)], [prog_type: override for every program],
 *                [only: load just the chosen program]      -> {object, prog, programs[], maps[]}
 *   run          prog, data_in (hex), [ctx_in (hex)], [repeat], [data_size_out], [ctx_size_out],
 *                [flags], [cpu], [batch_size]
 *                -> {retval, err, data_out, data_size_out, ctx_out, duration}
 *                err is 0 or the negative errno of the syscall (the reply is still ok:true);
 *                duration is the kernel's average ns per repetition.
 *   map_update   map, key (hex), value (hex) or values ([hex] one per possible CPU), [flags]
 *   map_lookup   map, key                                  -> {found, value | values}
 *   dump_maps    object | maps: [map handle...]            -> {maps: [{name, type, key_size,
 *                value_size, max_entries, entries: [{key, value | values}]} | {..., error}]}
 *   close        handle (a prog, map or object; closing an object closes what it owns)
 * A failed request replies {ok:false, error, errno (negative), log (verifier / libbpf output)}.
 *
 * Semantics of the run itself are the kernel's (net/bpf/test_run.c: bpf_prog_test_run_xdp,
 * bpf_prog_test_run_skb); this program adds nothing but transport.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "json.h"

#define PROTOCOL_VERSION 1
#define VERIFIER_LOG_SIZE (16u << 20)
#define DEFAULT_DATA_OUT (256u << 10)
#define DEFAULT_CTX_OUT 4096u

enum res_kind { RES_FREE, RES_PROG, RES_MAP, RES_OBJECT };

/* A res is one handle: a kernel object this process holds. */
struct res {
	enum res_kind kind;
	int fd;
	int owner;               /* handle of the object that owns this fd, or 0 if standalone */
	struct bpf_object *obj;  /* RES_OBJECT */
	const struct bpf_map *map; /* RES_MAP from an object (name, sizes) */
	char name[64];
	__u32 map_type, key_size, value_size, max_entries;
};

static struct res *table;
static int table_len = 1; /* handle 0 is never used */
static int table_cap;
static int ncpus;

/* libbpf's messages for the current request, returned in error replies. */
static struct jbuf libbpf_log;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	char tmp[4096];
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	if (n > 0 && libbpf_log.len < (1u << 20))
		jb_rawn(&libbpf_log, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
	return 0;
}

static int res_new(enum res_kind kind, int fd)
{
	int h = 0;
	for (int i = 1; i < table_len; i++)
		if (table[i].kind == RES_FREE) {
			h = i;
			break;
		}
	if (!h) {
		if (table_len >= table_cap) {
			table_cap = table_cap ? table_cap * 2 : 64;
			table = realloc(table, sizeof(*table) * (size_t)table_cap);
			if (!table) {
				perror("xdpsim-ktest");
				exit(1);
			}
		}
		h = table_len++;
	}
	memset(&table[h], 0, sizeof(table[h]));
	table[h].kind = kind;
	table[h].fd = fd;
	return h;
}

static struct res *res_get(const struct jnode *req, const char *key, enum res_kind kind)
{
	int64_t h;
	if (!json_int(req, key, &h) || h <= 0 || h >= table_len || table[h].kind != kind)
		return NULL;
	return &table[h];
}

static void res_close(int h)
{
	struct res *r = &table[h];
	if (r->kind == RES_OBJECT) {
		for (int i = 1; i < table_len; i++)
			if (table[i].kind != RES_FREE && table[i].owner == h)
				table[i].kind = RES_FREE;
		bpf_object__close(r->obj);
	} else if (r->owner == 0 && r->fd >= 0) {
		close(r->fd);
	}
	r->kind = RES_FREE;
}

/* Reply helpers: every reply starts with {"id":..,"ok":.. and is closed by reply_end. */
static void reply_begin(struct jbuf *out, const struct jnode *req, bool ok)
{
	struct jnode *id = json_get(req, "id");
	jb_raw(out, "{\"id\":");
	if (id && id->type == J_NUM)
		jb_raw(out, id->str);
	else
		jb_raw(out, "null");
	jb_raw(out, ok ? ",\"ok\":true" : ",\"ok\":false");
}

static void reply_error(struct jbuf *out, const struct jnode *req, int err, const char *log,
			const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void reply_error(struct jbuf *out, const struct jnode *req, int err, const char *log,
			const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	out->len = 0;
	reply_begin(out, req, false);
	jb_raw(out, ",\"error\":");
	jb_str(out, msg);
	jb_printf(out, ",\"errno\":%d", err);
	if (log && *log) {
		jb_raw(out, ",\"log\":");
		jb_str(out, log);
	}
}

static int parse_prog_type(const struct jnode *req, const char *key, enum bpf_prog_type *out)
{
	struct jnode *n = json_get(req, key);
	if (!n)
		return 0;
	if (n->type == J_NUM) {
		*out = (enum bpf_prog_type)strtol(n->str, NULL, 10);
		return 1;
	}
	if (n->type != J_STR)
		return -1;
	if (!strcmp(n->str, "xdp"))
		*out = BPF_PROG_TYPE_XDP;
	else if (!strcmp(n->str, "sched_cls") || !strcmp(n->str, "tc"))
		*out = BPF_PROG_TYPE_SCHED_CLS;
	else if (!strcmp(n->str, "sched_act"))
		*out = BPF_PROG_TYPE_SCHED_ACT;
	else if (!strcmp(n->str, "socket_filter"))
		*out = BPF_PROG_TYPE_SOCKET_FILTER;
	else
		return -1;
	return 1;
}

static const char *prog_type_name(enum bpf_prog_type t)
{
	const char *s = libbpf_bpf_prog_type_str(t);
	return s ? s : "unknown";
}

static const char *map_type_name(__u32 t)
{
	const char *s = libbpf_bpf_map_type_str((enum bpf_map_type)t);
	return s ? s : "unknown";
}

static bool is_percpu(__u32 t)
{
	return t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_PERCPU_HASH ||
	       t == BPF_MAP_TYPE_LRU_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

static size_t round8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static void op_hello(struct jbuf *out, const struct jnode *req)
{
	reply_begin(out, req, true);
	jb_printf(out, ",\"version\":%d,\"ncpus\":%d", PROTOCOL_VERSION, ncpus);
}

static void op_map_create(struct jbuf *out, const struct jnode *req)
{
	uint64_t key_size, value_size, max_entries, flags = 0;
	__u32 type = 0;
	struct jnode *t = json_get(req, "map_type");
	if (t && t->type == J_NUM) {
		type = (__u32)strtoul(t->str, NULL, 10);
	} else if (t && t->type == J_STR) {
		bool found = false;
		for (__u32 i = 1; i < 64; i++) {
			const char *s = libbpf_bpf_map_type_str((enum bpf_map_type)i);
			if (s && !strcmp(s, t->str)) {
				type = i;
				found = true;
				break;
			}
		}
		if (!found) {
			reply_error(out, req, -EINVAL, NULL, "map_create: unknown map_type %s", t->str);
			return;
		}
	} else {
		reply_error(out, req, -EINVAL, NULL, "map_create: map_type is required");
		return;
	}
	if (!json_uint(req, "key_size", &key_size) || !json_uint(req, "value_size", &value_size) ||
	    !json_uint(req, "max_entries", &max_entries)) {
		reply_error(out, req, -EINVAL, NULL, "map_create: key_size, value_size and max_entries are required");
		return;
	}
	json_uint(req, "map_flags", &flags);
	const char *name = json_str(req, "name");
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = (__u32)flags);
	int fd = bpf_map_create((enum bpf_map_type)type, name, (__u32)key_size, (__u32)value_size,
				(__u32)max_entries, &opts);
	if (fd < 0) {
		reply_error(out, req, -errno, libbpf_log.p, "map_create: %s", strerror(errno));
		return;
	}
	int h = res_new(RES_MAP, fd);
	struct res *r = &table[h];
	snprintf(r->name, sizeof(r->name), "%s", name ? name : "");
	r->map_type = type;
	r->key_size = (__u32)key_size;
	r->value_size = (__u32)value_size;
	r->max_entries = (__u32)max_entries;
	reply_begin(out, req, true);
	jb_printf(out, ",\"map\":%d", h);
}

static void op_load_raw(struct jbuf *out, const struct jnode *req)
{
	enum bpf_prog_type type;
	const char *hex = json_str(req, "insns");
	if (parse_prog_type(req, "prog_type", &type) != 1 || !hex) {
		reply_error(out, req, -EINVAL, NULL, "load_raw: insns (hex) and a known prog_type are required");
		return;
	}
	size_t len;
	uint8_t *bytes = hex_decode(hex, &len);
	if (!bytes || len == 0 || len % sizeof(struct bpf_insn)) {
		free(bytes);
		reply_error(out, req, -EINVAL, NULL, "load_raw: insns must be non-empty hex, a multiple of 8 bytes");
		return;
	}
	struct bpf_insn *insns = (struct bpf_insn *)bytes;
	size_t cnt = len / sizeof(struct bpf_insn);

	/* Resolve map references: lddw src=BPF_PSEUDO_MAP_FD imm=i -> fd of maps[i]. */
	int fds[64];
	int nfds = 0;
	struct jnode *maps = json_get(req, "maps");
	if (maps && maps->type == J_ARR) {
		for (struct jnode *m = maps->child; m; m = m->next) {
			long h = m->type == J_NUM ? strtol(m->str, NULL, 10) : 0;
			if (nfds == 64 || h <= 0 || h >= table_len || table[h].kind != RES_MAP) {
				free(bytes);
				reply_error(out, req, -EINVAL, NULL, "load_raw: maps[%d] is not a map handle", nfds);
				return;
			}
			fds[nfds++] = table[h].fd;
		}
	}
	for (size_t i = 0; i < cnt; i++) {
		if (insns[i].code == (BPF_LD | BPF_IMM | BPF_DW) && insns[i].src_reg == BPF_PSEUDO_MAP_FD) {
			if (insns[i].imm < 0 || insns[i].imm >= nfds) {
				int bad = insns[i].imm;
				free(bytes);
				reply_error(out, req, -EINVAL, NULL,
					    "load_raw: insn %zu references map index %d but %d maps were given", i,
					    bad, nfds);
				return;
			}
			insns[i].imm = fds[insns[i].imm];
		}
		if (insns[i].code == (BPF_LD | BPF_IMM | BPF_DW))
			i++;
	}

	uint64_t flags = 0, attach = 0;
	json_uint(req, "prog_flags", &flags);
	json_uint(req, "expected_attach_type", &attach);
	const char *name = json_str(req, "name");
	const char *license = json_str(req, "license");
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .prog_flags = (__u32)flags,
		    .expected_attach_type = (enum bpf_attach_type)attach);
	int fd = bpf_prog_load(type, name, license ? license : "GPL", insns, cnt, &opts);
	if (fd < 0) {
		/* Load again with the verifier log on, only now: logging slows verification down. */
		int err = -errno;
		char *log = calloc(1, VERIFIER_LOG_SIZE);
		LIBBPF_OPTS(bpf_prog_load_opts, lopts, .prog_flags = (__u32)flags,
			    .expected_attach_type = (enum bpf_attach_type)attach, .log_buf = log,
			    .log_size = VERIFIER_LOG_SIZE, .log_level = 1);
		int fd2 = log ? bpf_prog_load(type, name, license ? license : "GPL", insns, cnt, &lopts) : -1;
		if (fd2 >= 0)
			close(fd2);
		reply_error(out, req, err, log, "load_raw: the kernel refused the program: %s", strerror(-err));
		free(log);
		free(bytes);
		return;
	}
	free(bytes);
	int h = res_new(RES_PROG, fd);
	snprintf(table[h].name, sizeof(table[h].name), "%s", name ? name : "");
	reply_begin(out, req, true);
	jb_printf(out, ",\"prog\":%d,\"insn_cnt\":%zu", h, cnt);
}

static void emit_map_info(struct jbuf *out, const struct res *r)
{
	jb_raw(out, "{\"name\":");
	jb_str(out, r->name);
	jb_raw(out, ",\"type\":");
	jb_str(out, map_type_name(r->map_type));
	jb_printf(out, ",\"key_size\":%u,\"value_size\":%u,\"max_entries\":%u", r->key_size, r->value_size,
		  r->max_entries);
}

static void op_load_object(struct jbuf *out, const struct jnode *req)
{
	const char *path = json_str(req, "path");
	const char *want = json_str(req, "program");
	struct jnode *only = json_get(req, "only");
	enum bpf_prog_type override = BPF_PROG_TYPE_UNSPEC;
	if (!path) {
		reply_error(out, req, -EINVAL, NULL, "load_object: path is required");
		return;
	}
	if (parse_prog_type(req, "prog_type", &override) < 0) {
		reply_error(out, req, -EINVAL, NULL, "load_object: unknown prog_type");
		return;
	}
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		int err = -errno;
		reply_error(out, req, err, libbpf_log.p, "load_object: cannot open %s: %s", path, strerror(-err));
		return;
	}
	struct bpf_program *chosen = NULL, *p;
	bpf_object__for_each_program(p, obj) {
		if (want && (!strcmp(bpf_program__name(p), want) || !strcmp(bpf_program__section_name(p), want))) {
			if (!chosen)
				chosen = p;
		}
		if (override != BPF_PROG_TYPE_UNSPEC)
			bpf_program__set_type(p, override);
	}
	if (want && !chosen) {
		bpf_object__close(obj);
		reply_error(out, req, -ENOENT, NULL, "load_object: %s has no program or section named %s", path, want);
		return;
	}
	if (!chosen)
		chosen = bpf_object__next_program(obj, NULL);
	if (only && only->type == J_BOOL && only->b) {
		bpf_object__for_each_program(p, obj)
			bpf_program__set_autoload(p, p == chosen);
	}
	if (bpf_object__load(obj)) {
		int err = -errno;
		bpf_object__close(obj);
		reply_error(out, req, err, libbpf_log.p, "load_object: the kernel refused %s: %s", path, strerror(-err));
		return;
	}
	int oh = res_new(RES_OBJECT, -1);
	table[oh].obj = obj;
	snprintf(table[oh].name, sizeof(table[oh].name), "%s", path);

	struct jbuf progs, maps;
	jb_init(&progs);
	jb_init(&maps);
	int chosen_h = 0;
	bool first = true;
	bpf_object__for_each_program(p, obj) {
		int fd = bpf_program__fd(p);
		int h = 0;
		if (fd >= 0) {
			h = res_new(RES_PROG, fd);
			table[h].owner = oh;
			snprintf(table[h].name, sizeof(table[h].name), "%s", bpf_program__name(p));
		}
		if (p == chosen)
			chosen_h = h;
		jb_raw(&progs, first ? "{\"name\":" : ",{\"name\":");
		first = false;
		jb_str(&progs, bpf_program__name(p));
		jb_raw(&progs, ",\"section\":");
		jb_str(&progs, bpf_program__section_name(p));
		jb_raw(&progs, ",\"type\":");
		jb_str(&progs, prog_type_name(bpf_program__type(p)));
		if (h)
			jb_printf(&progs, ",\"prog\":%d}", h);
		else
			jb_raw(&progs, ",\"prog\":null}");
	}
	first = true;
	struct bpf_map *m;
	bpf_object__for_each_map(m, obj) {
		int h = res_new(RES_MAP, bpf_map__fd(m));
		struct res *r = &table[h];
		r->owner = oh;
		r->map = m;
		snprintf(r->name, sizeof(r->name), "%s", bpf_map__name(m));
		r->map_type = bpf_map__type(m);
		r->key_size = bpf_map__key_size(m);
		r->value_size = bpf_map__value_size(m);
		r->max_entries = bpf_map__max_entries(m);
		if (!first)
			jb_raw(&maps, ",");
		first = false;
		emit_map_info(&maps, r);
		jb_printf(&maps, ",\"map\":%d}", h);
	}
	reply_begin(out, req, true);
	jb_printf(out, ",\"object\":%d,\"prog\":%d,\"programs\":[", oh, chosen_h);
	jb_raw(out, progs.p);
	jb_raw(out, "],\"maps\":[");
	jb_raw(out, maps.p);
	jb_raw(out, "]");
	jb_free(&progs);
	jb_free(&maps);
}

static void op_run(struct jbuf *out, const struct jnode *req)
{
	struct res *prog = res_get(req, "prog", RES_PROG);
	const char *data_hex = json_str(req, "data_in");
	const char *ctx_hex = json_str(req, "ctx_in");
	if (!prog || !data_hex) {
		reply_error(out, req, -EINVAL, NULL, "run: prog (a program handle) and data_in (hex) are required");
		return;
	}
	size_t data_len = 0, ctx_len = 0;
	uint8_t *data = hex_decode(data_hex, &data_len);
	uint8_t *ctx = ctx_hex ? hex_decode(ctx_hex, &ctx_len) : NULL;
	if (!data || (ctx_hex && !ctx)) {
		free(data);
		free(ctx);
		reply_error(out, req, -EINVAL, NULL, "run: data_in/ctx_in must be hex");
		return;
	}
	uint64_t repeat = 1, data_out_size = DEFAULT_DATA_OUT, ctx_out_size = 0, flags = 0, cpu = 0, batch = 0;
	json_uint(req, "repeat", &repeat);
	json_uint(req, "data_size_out", &data_out_size);
	if (!json_uint(req, "ctx_size_out", &ctx_out_size) && ctx_hex)
		ctx_out_size = DEFAULT_CTX_OUT;
	json_uint(req, "flags", &flags);
	json_uint(req, "cpu", &cpu);
	json_uint(req, "batch_size", &batch);
	uint8_t *data_out = calloc(1, data_out_size ? data_out_size : 1);
	uint8_t *ctx_out = ctx_out_size ? calloc(1, ctx_out_size) : NULL;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = data, .data_size_in = (__u32)data_len,
		    .data_out = data_out_size ? data_out : NULL, .data_size_out = (__u32)data_out_size,
		    .ctx_in = ctx_len ? ctx : NULL, .ctx_size_in = (__u32)ctx_len, .ctx_out = ctx_out,
		    .ctx_size_out = (__u32)ctx_out_size, .repeat = (int)repeat, .flags = (__u32)flags,
		    .cpu = (__u32)cpu, .batch_size = (__u32)batch);
	int err = bpf_prog_test_run_opts(prog->fd, &opts);
	if (err < 0 && err != -errno)
		err = -errno;
	bool copied = err == 0 || err == -ENOSPC;
	reply_begin(out, req, true);
	jb_printf(out, ",\"retval\":%u,\"err\":%d,\"data_size_out\":%u,\"data_out\":", opts.retval, err < 0 ? err : 0,
		  copied ? opts.data_size_out : 0);
	/* On -ENOSPC the kernel has copied what fits; report exactly that much. */
	size_t shown = opts.data_size_out < data_out_size ? opts.data_size_out : data_out_size;
	jb_hex(out, data_out, copied ? shown : 0);
	jb_raw(out, ",\"ctx_out\":");
	if (ctx_out && copied) {
		size_t cshown = opts.ctx_size_out < ctx_out_size ? opts.ctx_size_out : ctx_out_size;
		jb_hex(out, ctx_out, cshown);
	} else {
		jb_raw(out, "null");
	}
	jb_printf(out, ",\"duration\":%u", opts.duration);
	free(data);
	free(ctx);
	free(data_out);
	free(ctx_out);
}

/* value_buf_size is the size of a lookup/update buffer: per-CPU maps hold one slot per CPU. */
static size_t value_buf_size(const struct res *m)
{
	return is_percpu(m->map_type) ? round8(m->value_size) * (size_t)ncpus : m->value_size;
}

static void emit_value(struct jbuf *out, const struct res *m, const uint8_t *v)
{
	if (!is_percpu(m->map_type)) {
		jb_raw(out, ",\"value\":");
		jb_hex(out, v, m->value_size);
		return;
	}
	jb_raw(out, ",\"values\":[");
	for (int c = 0; c < ncpus; c++) {
		if (c)
			jb_raw(out, ",");
		jb_hex(out, v + round8(m->value_size) * (size_t)c, m->value_size);
	}
	jb_raw(out, "]");
}

static void op_map_update(struct jbuf *out, const struct jnode *req)
{
	struct res *m = res_get(req, "map", RES_MAP);
	const char *key_hex = json_str(req, "key");
	if (!m || !key_hex) {
		reply_error(out, req, -EINVAL, NULL, "map_update: map (a map handle) and key (hex) are required");
		return;
	}
	size_t klen, vlen, vsize = value_buf_size(m);
	uint8_t *key = hex_decode(key_hex, &klen);
	uint8_t *value = calloc(1, vsize ? vsize : 1);
	const char *value_hex = json_str(req, "value");
	struct jnode *values = json_get(req, "values");
	bool bad = !key || klen != m->key_size;
	if (!bad && value_hex && !is_percpu(m->map_type)) {
		uint8_t *v = hex_decode(value_hex, &vlen);
		bad = !v || vlen != m->value_size;
		if (!bad)
			memcpy(value, v, vlen);
		free(v);
	} else if (!bad && values && values->type == J_ARR && is_percpu(m->map_type)) {
		int c = 0;
		for (struct jnode *n = values->child; n && !bad; n = n->next, c++) {
			uint8_t *v = n->type == J_STR ? hex_decode(n->str, &vlen) : NULL;
			bad = !v || vlen != m->value_size || c >= ncpus;
			if (!bad)
				memcpy(value + round8(m->value_size) * (size_t)c, v, vlen);
			free(v);
		}
		bad = bad || c != ncpus;
	} else {
		bad = true;
	}
	if (bad) {
		free(key);
		free(value);
		reply_error(out, req, -EINVAL, NULL,
			    "map_update: key must be %u bytes and %s", m->key_size,
			    is_percpu(m->map_type) ? "values a list of one value per possible CPU" : "value must match value_size");
		return;
	}
	uint64_t flags = 0;
	json_uint(req, "flags", &flags);
	int err = bpf_map_update_elem(m->fd, key, value, flags);
	free(key);
	free(value);
	if (err) {
		reply_error(out, req, -errno, NULL, "map_update: %s", strerror(errno));
		return;
	}
	reply_begin(out, req, true);
}

static void op_map_lookup(struct jbuf *out, const struct jnode *req)
{
	struct res *m = res_get(req, "map", RES_MAP);
	const char *key_hex = json_str(req, "key");
	size_t klen;
	uint8_t *key = key_hex ? hex_decode(key_hex, &klen) : NULL;
	if (!m || !key || klen != m->key_size) {
		free(key);
		reply_error(out, req, -EINVAL, NULL, "map_lookup: map (a map handle) and a key of key_size bytes are required");
		return;
	}
	uint8_t *value = calloc(1, value_buf_size(m) + 1);
	int err = bpf_map_lookup_elem(m->fd, key, value);
	if (err && errno != ENOENT) {
		reply_error(out, req, -errno, NULL, "map_lookup: %s", strerror(errno));
	} else {
		reply_begin(out, req, true);
		jb_printf(out, ",\"found\":%s", err ? "false" : "true");
		if (!err)
			emit_value(out, m, value);
	}
	free(key);
	free(value);
}

/* dump_one appends one map with all its entries, or the reason it cannot be read. */
static void dump_one(struct jbuf *out, const struct res *m)
{
	emit_map_info(out, m);
	uint8_t *key = calloc(1, m->key_size + 1), *next = calloc(1, m->key_size + 1);
	uint8_t *value = calloc(1, value_buf_size(m) + 1);
	struct jbuf entries;
	jb_init(&entries);
	const char *error = NULL;
	int err = 0;
	bool first = true;
	void *prev = NULL;
	for (;;) {
		if (bpf_map_get_next_key(m->fd, prev, next)) {
			if (errno != ENOENT) {
				err = -errno;
				error = "get_next_key";
			}
			break;
		}
		memcpy(key, next, m->key_size);
		prev = key;
		if (bpf_map_lookup_elem(m->fd, key, value)) {
			if (errno == ENOENT)
				continue; /* deleted meanwhile */
			err = -errno;
			error = "lookup";
			break;
		}
		jb_raw(&entries, first ? "{\"key\":" : ",{\"key\":");
		first = false;
		jb_hex(&entries, key, m->key_size);
		emit_value(&entries, m, value);
		jb_raw(&entries, "}");
	}
	if (error) {
		jb_raw(out, ",\"error\":");
		char msg[256];
		snprintf(msg, sizeof(msg), "%s: %s", error, strerror(-err));
		jb_str(out, msg);
		jb_printf(out, ",\"errno\":%d}", err);
	} else {
		jb_raw(out, ",\"entries\":[");
		jb_raw(out, entries.p);
		jb_raw(out, "]}");
	}
	jb_free(&entries);
	free(key);
	free(next);
	free(value);
}

static void op_dump_maps(struct jbuf *out, const struct jnode *req)
{
	struct res *obj = res_get(req, "object", RES_OBJECT);
	struct jnode *maps = json_get(req, "maps");
	if (!obj && !(maps && maps->type == J_ARR)) {
		reply_error(out, req, -EINVAL, NULL, "dump_maps: object (an object handle) or maps (map handles) is required");
		return;
	}
	reply_begin(out, req, true);
	jb_raw(out, ",\"maps\":[");
	bool first = true;
	if (obj) {
		int oh = (int)(obj - table);
		for (int i = 1; i < table_len; i++) {
			if (table[i].kind != RES_MAP || table[i].owner != oh)
				continue;
			if (!first)
				jb_raw(out, ",");
			first = false;
			dump_one(out, &table[i]);
		}
	} else {
		for (struct jnode *n = maps->child; n; n = n->next) {
			long h = n->type == J_NUM ? strtol(n->str, NULL, 10) : 0;
			if (h <= 0 || h >= table_len || table[h].kind != RES_MAP) {
				reply_error(out, req, -EINVAL, NULL, "dump_maps: %ld is not a map handle", h);
				return;
			}
			if (!first)
				jb_raw(out, ",");
			first = false;
			dump_one(out, &table[h]);
		}
	}
	jb_raw(out, "]");
}

static void op_close(struct jbuf *out, const struct jnode *req)
{
	int64_t h;
	if (!json_int(req, "handle", &h) || h <= 0 || h >= table_len || table[h].kind == RES_FREE) {
		reply_error(out, req, -EINVAL, NULL, "close: handle is not open");
		return;
	}
	if (table[h].owner) {
		reply_error(out, req, -EINVAL, NULL, "close: handle %lld belongs to object %d; close the object",
			    (long long)h, table[h].owner);
		return;
	}
	res_close((int)h);
	reply_begin(out, req, true);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	/* A no-op on libbpf 1.x; on 0.7-0.8 it makes failed opens return NULL, as this code expects. */
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	jb_init(&libbpf_log);
	libbpf_set_print(libbpf_print);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		ncpus = 1;

	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	struct jbuf out;
	jb_init(&out);
	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0)
			continue;
		const char *perr = NULL;
		struct jnode *req = json_parse(line, &perr);
		out.len = 0;
		libbpf_log.len = 0;
		libbpf_log.p[0] = '\0';
		if (!req || req->type != J_OBJ) {
			struct jnode empty = { .type = J_OBJ };
			reply_error(&out, &empty, -EINVAL, NULL, "bad request: %s", req ? "not an object" : perr);
		} else {
			const char *op = json_str(req, "op");
			if (!op)
				reply_error(&out, req, -EINVAL, NULL, "bad request: op is required");
			else if (!strcmp(op, "hello"))
				op_hello(&out, req);
			else if (!strcmp(op, "map_create"))
				op_map_create(&out, req);
			else if (!strcmp(op, "load_raw"))
				op_load_raw(&out, req);
			else if (!strcmp(op, "load_object"))
				op_load_object(&out, req);
			else if (!strcmp(op, "run"))
				op_run(&out, req);
			else if (!strcmp(op, "map_update"))
				op_map_update(&out, req);
			else if (!strcmp(op, "map_lookup"))
				op_map_lookup(&out, req);
			else if (!strcmp(op, "dump_maps"))
				op_dump_maps(&out, req);
			else if (!strcmp(op, "close"))
				op_close(&out, req);
			else if (!strcmp(op, "quit")) {
				json_free(req);
				break;
			} else
				reply_error(&out, req, -EINVAL, NULL, "bad request: unknown op %s", op);
		}
		jb_raw(&out, "}\n");
		fwrite(out.p, 1, out.len, stdout);
		fflush(stdout);
		json_free(req);
	}
	free(line);
	jb_free(&out);
	for (int i = 1; i < table_len; i++)
		if (table[i].kind == RES_OBJECT || (table[i].kind != RES_FREE && table[i].owner == 0))
			res_close(i);
	return 0;
}
