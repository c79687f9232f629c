/*
 * config_int.h - private to src/edge/config*.c; no other module includes it.
 *
 * config_yaml.c turns the text into a small tree of YAML nodes (libfyaml's
 * event parser, whose marks carry line numbers) and reads typed values from
 * it; every problem becomes a diag with file, line and field. config.c holds
 * the schema, config_quick.c the command-line mode. All of it runs on the
 * control thread; nothing here is shared with the workers.
 */
#ifndef TW_EDGE_CONFIG_INT_H
#define TW_EDGE_CONFIG_INT_H

#include "edge/config.h"
#include "util/tw.h"

enum tw__ytype { TW__Y_SCALAR, TW__Y_SEQ, TW__Y_MAP };

/* One YAML node. Owned by its parent; the root by the caller of
 * tw__yaml_build(), freed with tw__ynode_free(). */
struct tw__ynode {
	enum tw__ytype type;
	int line;   /* 1-based; a mapping's value carries its key's line */
	bool null;  /* unquoted "", "~" or "null" */
	bool bad;   /* already reported (alias, tag): readers stay quiet */
	char *text; /* scalar: NUL-terminated copy (may hold NULs before len) */
	size_t len;
	struct tw__ynode **kid; /* mapping: key, value, key, value, ...; sequence: items */
	size_t n, cap;
};

/* One load: where diags go and what is being filled. */
struct tw__cfg_ctx {
	const char *file;
	tw_diags_t *d;
	tw_config_t *c;
	size_t nerr;      /* errors reported, also past the cap */
	bool oom, capped; /* an allocation failed; more than 100 errors */
};

/* Adds a diag (the first 100 of a load; later ones are only counted). */
void tw__cfg_err(struct tw__cfg_ctx *x, int line, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* s[0..len) quoted for a message: escaped, cut at 60 bytes. Returns buf. */
const char *tw__cfg_quote(char *buf, size_t size, const char *s, size_t len);
#define TW__CFG_QS(buf, s) tw__cfg_quote(buf, sizeof(buf), (s), strlen(s))
/* Allocation that records failure in x->oom instead of exiting. */
char *tw__cfg_strdup(struct tw__cfg_ctx *x, const char *s);
void *tw__cfg_calloc(struct tw__cfg_ctx *x, size_t n, size_t sz);

/* Parses text into a tree; returns its root, NULL for an empty document.
 * *ok is false when the tree must not be read (syntax error, bad UTF-8,
 * nesting too deep, two documents): those are already reported. */
struct tw__ynode *tw__yaml_build(struct tw__cfg_ctx *x, const char *text, size_t len, bool *ok);
void tw__ynode_free(struct tw__ynode *n);

/* Field paths: base.key, base[i] or base[text] (text already quoted). */
void tw__cfg_path_key(char *out, size_t size, const char *base, const char *key);
void tw__cfg_path_index(char *out, size_t size, const char *base, size_t i, const char *text);

/* The closest of names[] (entries may be NULL) to s, if likely a typo. */
const char *tw__cfg_suggest(const char *s, const char *const *names, size_t n);

/* The readers: true when n held the right thing and *out was set; otherwise
 * a diag at n's line naming `path` says what was expected (`what`). */
bool tw__cfg_want(struct tw__cfg_ctx *x, const struct tw__ynode *n, enum tw__ytype t,
                  const char *path, const char *what);
/* n must be a mapping whose keys are all in keys[]: vals[i] gets the value of
 * keys[i] or NULL. Unknown keys (with a suggestion) and duplicates are errors. */
bool tw__cfg_map_keys(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path,
                      const char *what, const char *const *keys, size_t nk,
                      const struct tw__ynode **vals);
/* *out is freed and replaced (heap copy). */
bool tw__cfg_str(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path, char **out);
/* A name for logs and API paths: [A-Za-z0-9._:@[]-], 1 to 63 bytes. */
bool tw__cfg_name(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path, char **out);
bool tw__cfg_bool(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path, bool *out);
bool tw__cfg_uint(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path, uint64_t min,
                  uint64_t max, uint64_t *out);
bool tw__cfg_duration(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path,
                      bool zero_ok, uint64_t *out);
/* *out = index into names[]. */
bool tw__cfg_enum(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path,
                  const char *const *names, size_t nn, int *out);
/* A listen address with a port other than 0. */
bool tw__cfg_listen(struct tw__cfg_ctx *x, const struct tw__ynode *n, const char *path,
                    struct sockaddr_storage *ss, socklen_t *sl);

/* Shared by the file and quick mode (config.c). */
extern const char *const tw__cfg_proto_list;     /* "smtp, submission, ..." */
extern const char *const tw__cfg_proxy_names[3]; /* none, v1, v2 */
bool tw__cfg_sa_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
/* The listener of c that binds ss already, or NULL. */
const tw_cfg_listener_t *tw__cfg_bind_owner(const tw_config_t *c,
                                            const struct sockaddr_storage *ss);
void tw__cfg_bind_clash(struct tw__cfg_ctx *x, int line, const char *path, const char *text,
                        const tw_cfg_listener_t *owner, const tw_cfg_listener_t *self);
/* binds, bind_lens and bind_texts for n entries; then add them one by one. */
bool tw__cfg_alloc_binds(struct tw__cfg_ctx *x, tw_cfg_listener_t *l, size_t n);
bool tw__cfg_add_bind(struct tw__cfg_ctx *x, tw_cfg_listener_t *l,
                      const struct sockaddr_storage *ss, socklen_t sl, const char *text);
/* "host.example" or "*.example": true if valid; lower-cases s and drops one
 * trailing dot, in place. */
bool tw__cfg_sni_pattern_ok(char *s);
/* Free what the struct points to, not the struct. */
void tw__cfg_listener_release(tw_cfg_listener_t *l);
void tw__cfg_backend_release(tw_cfg_backend_t *b);

/* Sets backends' `dependency` flag (and a tcp check for those without one). */
void tw__cfg_mark_dependencies(tw_config_t *c);

#endif
