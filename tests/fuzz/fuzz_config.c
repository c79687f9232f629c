#include "util/tw.h"

#include "edge/config.h"

/* The whole loader on arbitrary bytes: the YAML parser, every section, the
 * cross-checks and the error paths, which must free what they built. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libfyaml 0.7.12 itself leaks a buffer (realloc'd inside the library, 512 B
 * to 4 KiB) for a single-quoted scalar with several '' escapes in a row
 * (corpus/config/regress-libfyaml-quote-leak): not ours to free. Only leaks
 * allocated inside libfyaml are excused; the unit tests, which run under
 * LeakSanitizer without this, cover our use of the parser's lifetimes. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libfyaml.so\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tw_diags_t d = {0};
	tw_config_t *c = tw_config_load_string("fuzz.yaml", (const char *)data, size, &d);
	/* Either a config or at least one diag, never both, never neither. */
	TW_BUG_ON(!c == !d.n);
	if (c) {
		for (size_t i = 0; i < c->n_listeners; i++)
			(void)tw_config_idle_ms(c, &c->listeners[i]);
		TW_BUG_ON(c->n_listeners == 0);
	}
	char buf[1024];
	for (size_t i = 0; i < d.n; i++) {
		TW_BUG_ON(strlen(d.v[i].msg) == 0);
		tw_diag_format(&d.v[i], buf, sizeof(buf));
	}
	tw_config_free(c);
	tw_diags_release(&d);
	return 0;
}
