/*
 * spaceship.h - internals of the Spaceship DNS provider (spaceship.c) that
 * unit tests and fuzz targets reach directly: parsing one page of
 * GET /dns/records/{domain} into a zone, and turning a record into the JSON
 * item PUT and DELETE take. Everything else goes through provider.h.
 *
 * The API is described in docs/spaceship-api.md (SPEC = Spaceship's OpenAPI
 * document, docs.spaceship.dev).
 */
#ifndef TW_DNS_SPACESHIP_H
#define TW_DNS_SPACESHIP_H

#include "dns/provider.h"

#include <jansson.h>

/* Records per request: SPEC caps take (list) and items (PUT/DELETE) at 500. */
#define TW_SPACESHIP_MAX_BATCH 500

/*
 * Parses one page body {"items":[...],"total":N} and adds each item to z
 * (origin = the Spaceship domain). first_index is the index of the page's
 * first item in the whole listing (its skip), used in messages. On success
 * *nitems is the number of items on the page and *total the "total" field
 * (-1 when absent). An item that can't be converted fails the page with
 * exit code 3 and a message naming items[index] and the field.
 */
int tw_dns_spaceship_parse_page(tw_dns_zone_t *z, const char *body, size_t len, size_t first_index,
                                size_t *nitems, long long *total, tw_dns_err_t *err);

/* Converts one list item (an object) into a record of z; see parse_page. */
int tw_dns_spaceship_item_to_rr(tw_dns_zone_t *z, const json_t *item, size_t index,
                                tw_dns_err_t *err);

/*
 * The JSON item for r, a record under origin (absolute, with the dot): the
 * PUT form (with_ttl) or the DELETE form (no ttl). NULL with a reason in why
 * when the API can't express the record.
 */
json_t *tw_dns_spaceship_rr_to_item(const tw_dns_rr_t *r, const char *origin, bool with_ttl,
                                    char *why, size_t n);

/* The sem.can_write of the provider. */
bool tw_dns_spaceship_can_write(const tw_dns_rr_t *r, const char *origin, char *why, size_t n);

#endif
