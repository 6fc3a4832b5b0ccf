/*
 * json.c — see json.h. A recursive-descent reader for one line of JSON and a buffer writer.
 */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

struct parser {
	const char *s;
	const char *err;
	int depth;
};

static void skip_ws(struct parser *p)
{
	while (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')
		p->s++;
}

static struct jnode *node_new(enum jtype t)
{
	struct jnode *n = calloc(1, sizeof(*n));
	if (n)
		n->type = t;
	return n;
}

static struct jnode *parse_value(struct parser *p);

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* parse_string reads a quoted string at p->s into a malloc'd UTF-8 buffer. */
static char *parse_string(struct parser *p)
{
	if (*p->s != '"') {
		p->err = "expected string";
		return NULL;
	}
	p->s++;
	size_t cap = 16, len = 0;
	char *out = malloc(cap);
	if (!out) {
		p->err = "out of memory";
		return NULL;
	}
	for (;;) {
		char c = *p->s++;
		unsigned cp;
		if (c == '\0') {
			p->err = "unterminated string";
			free(out);
			return NULL;
		}
		if (c == '"')
			break;
		if (len + 5 >= cap) {
			cap *= 2;
			char *n = realloc(out, cap);
			if (!n) {
				free(out);
				p->err = "out of memory";
				return NULL;
			}
			out = n;
		}
		if (c != '\\') {
			out[len++] = c;
			continue;
		}
		c = *p->s++;
		switch (c) {
		case '"': out[len++] = '"'; break;
		case '\\': out[len++] = '\\'; break;
		case '/': out[len++] = '/'; break;
		case 'b': out[len++] = '\b'; break;
		case 'f': out[len++] = '\f'; break;
		case 'n': out[len++] = '\n'; break;
		case 'r': out[len++] = '\r'; break;
		case 't': out[len++] = '\t'; break;
		case 'u':
			cp = 0;
			for (int i = 0; i < 4; i++) {
				int v = hexval(*p->s++);
				if (v < 0) {
					free(out);
					p->err = "bad \\u escape";
					return NULL;
				}
				cp = cp * 16 + (unsigned)v;
			}
			/* Requests are ASCII (paths, names, hex); encode BMP code points as UTF-8. */
			if (cp < 0x80) {
				out[len++] = (char)cp;
			} else if (cp < 0x800) {
				out[len++] = (char)(0xc0 | (cp >> 6));
				out[len++] = (char)(0x80 | (cp & 0x3f));
			} else {
				out[len++] = (char)(0xe0 | (cp >> 12));
				out[len++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				out[len++] = (char)(0x80 | (cp & 0x3f));
			}
			break;
		default:
			free(out);
			p->err = "bad escape";
			return NULL;
		}
	}
	out[len] = '\0';
	return out;
}

static struct jnode *parse_container(struct parser *p, bool obj)
{
	struct jnode *n = node_new(obj ? J_OBJ : J_ARR);
	struct jnode **tail = &n->child;
	char close = obj ? '}' : ']';
	if (++p->depth > 64) {
		p->err = "nesting too deep";
		json_free(n);
		return NULL;
	}
	p->s++;
	skip_ws(p);
	if (*p->s == close) {
		p->s++;
		p->depth--;
		return n;
	}
	for (;;) {
		char *key = NULL;
		skip_ws(p);
		if (obj) {
			key = parse_string(p);
			if (!key)
				goto fail;
			skip_ws(p);
			if (*p->s != ':') {
				free(key);
				p->err = "expected ':'";
				goto fail;
			}
			p->s++;
		}
		struct jnode *v = parse_value(p);
		if (!v) {
			free(key);
			goto fail;
		}
		v->key = key;
		*tail = v;
		tail = &v->next;
		skip_ws(p);
		if (*p->s == ',') {
			p->s++;
			continue;
		}
		if (*p->s == close) {
			p->s++;
			break;
		}
		p->err = obj ? "expected ',' or '}'" : "expected ',' or ']'";
		goto fail;
	}
	p->depth--;
	return n;
fail:
	json_free(n);
	return NULL;
}

static struct jnode *parse_value(struct parser *p)
{
	skip_ws(p);
	char c = *p->s;
	if (c == '{' || c == '[')
		return parse_container(p, c == '{');
	if (c == '"') {
		char *s = parse_string(p);
		if (!s)
			return NULL;
		struct jnode *n = node_new(J_STR);
		n->str = s;
		return n;
	}
	if (strncmp(p->s, "true", 4) == 0 || strncmp(p->s, "false", 5) == 0) {
		struct jnode *n = node_new(J_BOOL);
		n->b = c == 't';
		p->s += n->b ? 4 : 5;
		return n;
	}
	if (strncmp(p->s, "null", 4) == 0) {
		p->s += 4;
		return node_new(J_NULL);
	}
	if (c == '-' || (c >= '0' && c <= '9')) {
		const char *start = p->s;
		p->s++;
		while ((*p->s >= '0' && *p->s <= '9') || *p->s == '.' || *p->s == 'e' || *p->s == 'E' ||
		       *p->s == '+' || *p->s == '-')
			p->s++;
		struct jnode *n = node_new(J_NUM);
		n->str = strndup(start, (size_t)(p->s - start));
		return n;
	}
	p->err = "unexpected character";
	return NULL;
}

struct jnode *json_parse(const char *text, const char **err)
{
	struct parser p = { .s = text, .err = NULL, .depth = 0 };
	struct jnode *n = parse_value(&p);
	if (n) {
		skip_ws(&p);
		if (*p.s != '\0') {
			json_free(n);
			n = NULL;
			p.err = "trailing characters";
		}
	}
	if (!n && err)
		*err = p.err ? p.err : "parse error";
	return n;
}

void json_free(struct jnode *n)
{
	while (n) {
		struct jnode *next = n->next;
		json_free(n->child);
		free(n->str);
		free(n->key);
		free(n);
		n = next;
	}
}

struct jnode *json_get(const struct jnode *obj, const char *key)
{
	if (!obj || obj->type != J_OBJ)
		return NULL;
	for (struct jnode *m = obj->child; m; m = m->next)
		if (strcmp(m->key, key) == 0)
			return m;
	return NULL;
}

bool json_int(const struct jnode *obj, const char *key, int64_t *out)
{
	struct jnode *n = json_get(obj, key);
	if (!n || n->type != J_NUM)
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(n->str, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

bool json_uint(const struct jnode *obj, const char *key, uint64_t *out)
{
	struct jnode *n = json_get(obj, key);
	if (!n || n->type != J_NUM || n->str[0] == '-')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(n->str, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

const char *json_str(const struct jnode *obj, const char *key)
{
	struct jnode *n = json_get(obj, key);
	return n && n->type == J_STR ? n->str : NULL;
}

void jb_init(struct jbuf *b)
{
	b->cap = 256;
	b->len = 0;
	b->p = malloc(b->cap);
	if (!b->p) {
		perror("xdpsim-ktest");
		exit(1);
	}
	b->p[0] = '\0';
}

void jb_free(struct jbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static void jb_reserve(struct jbuf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	while (b->len + extra + 1 > b->cap)
		b->cap *= 2;
	char *n = realloc(b->p, b->cap);
	if (!n) {
		perror("xdpsim-ktest");
		exit(1);
	}
	b->p = n;
}

void jb_rawn(struct jbuf *b, const char *s, size_t n)
{
	jb_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void jb_raw(struct jbuf *b, const char *s)
{
	jb_rawn(b, s, strlen(s));
}

void jb_printf(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	jb_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void jb_strn(struct jbuf *b, const char *s, size_t n)
{
	jb_reserve(b, n * 6 + 2);
	b->p[b->len++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			b->p[b->len++] = '\\';
			b->p[b->len++] = (char)c;
		} else if (c == '\n') {
			b->p[b->len++] = '\\';
			b->p[b->len++] = 'n';
		} else if (c < 0x20 || c >= 0x7f) {
			/* Logs are ASCII; anything else is escaped byte by byte to keep the line valid JSON. */
			b->len += (size_t)sprintf(b->p + b->len, "\\u%04x", c);
		} else {
			b->p[b->len++] = (char)c;
		}
	}
	b->p[b->len++] = '"';
	b->p[b->len] = '\0';
}

void jb_str(struct jbuf *b, const char *s)
{
	jb_strn(b, s, strlen(s));
}

void jb_hex(struct jbuf *b, const void *data, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *d = data;
	jb_reserve(b, n * 2 + 2);
	b->p[b->len++] = '"';
	for (size_t i = 0; i < n; i++) {
		b->p[b->len++] = digits[d[i] >> 4];
		b->p[b->len++] = digits[d[i] & 15];
	}
	b->p[b->len++] = '"';
	b->p[b->len] = '\0';
}

uint8_t *hex_decode(const char *hex, size_t *out_len)
{
	size_t n = strlen(hex);
	if (n % 2)
		return NULL;
	uint8_t *out = malloc(n / 2 + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		out[i] = (uint8_t)(hi * 16 + lo);
	}
	*out_len = n / 2;
	return out;
}
