/*
 * json.h — the small JSON reader and writer xdpsim-ktest needs for its line protocol.
 *
 * Reader: one request line parsed into a tree of nodes (objects keep member order; numbers keep
 * their text so 64-bit integers survive). Writer: an append-only growable buffer with helpers for
 * the few shapes the replies use. No dependencies beyond libc.
 */
#ifndef XDPSIM_KTEST_JSON_H
#define XDPSIM_KTEST_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jnode {
	enum jtype type;
	bool b;
	char *str;            /* J_STR: decoded string; J_NUM: the number's text */
	char *key;            /* member name when this node is an object member */
	struct jnode *child;  /* first element / member */
	struct jnode *next;   /* next sibling */
};

/* json_parse parses `text` (NUL-terminated). Returns NULL and sets *err on malformed input. */
struct jnode *json_parse(const char *text, const char **err);
void json_free(struct jnode *n);

struct jnode *json_get(const struct jnode *obj, const char *key);
/* json_int reads an integer member; returns false when absent or not an integer. */
bool json_int(const struct jnode *obj, const char *key, int64_t *out);
bool json_uint(const struct jnode *obj, const char *key, uint64_t *out);
const char *json_str(const struct jnode *obj, const char *key);

struct jbuf {
	char *p;
	size_t len, cap;
};

void jb_init(struct jbuf *b);
void jb_free(struct jbuf *b);
void jb_raw(struct jbuf *b, const char *s);
void jb_rawn(struct jbuf *b, const char *s, size_t n);
void jb_printf(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* jb_str appends a JSON string literal (quoted, escaped). */
void jb_str(struct jbuf *b, const char *s);
void jb_strn(struct jbuf *b, const char *s, size_t n);
/* jb_hex appends a JSON string holding `n` bytes as lowercase hex. */
void jb_hex(struct jbuf *b, const void *data, size_t n);

/* hex_decode decodes lowercase/uppercase hex; returns a malloc'd buffer or NULL on bad input. */
uint8_t *hex_decode(const char *hex, size_t *out_len);

#endif
