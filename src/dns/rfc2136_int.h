/*
 * rfc2136_int.h - what rfc2136.c does with the bytes of a server's answer
 * (AXFR messages, the UPDATE answer, their TSIG records), as functions
 * without a socket (internal to src/dns/; the fuzz target
 * tests/fuzz/fuzz_dns_tsig.c and unit tests call them). rfc_list and
 * rfc_call go through exactly these steps after the transport (wire.c).
 */
#ifndef TW_DNS_RFC2136_INT_H
#define TW_DNS_RFC2136_INT_H

#include "dns/provider.h"

#include <openssl/evp.h>

/* A growing byte buffer (v malloc'd). */
typedef struct tw_dns_buf {
	uint8_t *v;
	size_t n, cap;
} tw_dns_buf_t;

/*
 * One exchange: the request's ID, the running state of TSIG verification
 * of its answer (RFC 8945 5.3, 5.3.1) and, for AXFR, how far the transfer
 * is. Zero it, set id (and the request's MAC: tw_dns_rfc2136_sign does),
 * and release it with tw_dns_rfc2136_rx_release.
 */
typedef struct tw_dns_rfc2136_rx {
	uint16_t id;
	uint8_t prior[EVP_MAX_MD_SIZE]; /* the request's MAC, then each answer's */
	size_t prior_len;
	bool first_done;      /* a first signed answer was verified */
	tw_dns_buf_t pending; /* unsigned messages since the last signed one */
	int unsigned_run;
	int soas;             /* AXFR: SOA records seen; 2 = the transfer is complete */
	size_t msgs, records; /* AXFR: messages and records taken */
	long t0;              /* when the request went out (tw_dns_wire_now_ms), for traces */
} tw_dns_rfc2136_rx_t;

void tw_dns_rfc2136_rx_release(tw_dns_rfc2136_rx_t *rx);

/* The outcome of TSIG verification of one message. */
typedef enum {
	TW_DNS_TV_OK,         /* verified, or no key (unsigned provider) */
	TW_DNS_TV_UNSIGNED,   /* no TSIG where one is required */
	TW_DNS_TV_BAD,        /* wrong key name, algorithm or MAC */
	TW_DNS_TV_TIME,       /* MAC fine, time outside the fudge (RFC 8945 5.2.3) */
	TW_DNS_TV_SERVER_ERR, /* the server's TSIG error field is set (5.3.2) */
} tw_dns_tv_t;

/*
 * Finds the TSIG record of message w (n bytes; it must be the last record,
 * RFC 8945 5.1) and, when p has a key, verifies it against rx (which it
 * advances). Returns the outcome, or < 0 (TW_EPROTO) when the message does
 * not parse as far as TSIG needs. *tsig_error gets the TSIG error field,
 * *tsig_off where the TSIG record starts (0: none).
 */
int tw_dns_rfc2136_verify(const tw_dns_provider_t *p, tw_dns_rfc2136_rx_t *rx, const uint8_t *w,
                          size_t n, unsigned *tsig_error, size_t *tsig_off);

/*
 * Appends a TSIG record to msg with p's key (RFC 8945 4.2-4.3). A request
 * (answer false): the MAC covers msg and the TSIG variables, and becomes
 * rx->prior. An answer (answer true, as a server signs one, for tests):
 * the MAC covers rx's prior MAC, the unsigned messages in rx->pending (when
 * a first answer was signed), msg and the variables (only the timers after
 * the first answer, 5.3.1); rx then moves on as verification does.
 * false when p has no key or memory runs out.
 */
bool tw_dns_rfc2136_sign(const tw_dns_provider_t *p, tw_dns_rfc2136_rx_t *rx, tw_dns_buf_t *msg,
                         bool answer);

/*
 * One message of the answer to the AXFR request of rx (RFC 5936): checks
 * the ID, TSIG and rcode, parses it (ldns) and adds its records to out.
 * 0 to go on (rx->soas == 2: the transfer is complete), or < 0 with err.
 */
int tw_dns_rfc2136_axfr_msg(tw_dns_provider_t *p, tw_dns_rfc2136_rx_t *rx, const uint8_t *w,
                            size_t n, tw_dns_zone_t *out, tw_dns_err_t *err);

/*
 * The answer to the UPDATE request of rx (RFC 2136 3.8): 0 when applied,
 * or < 0 with err (maybe_applied when the outcome is unknown).
 */
int tw_dns_rfc2136_update_answer(tw_dns_provider_t *p, tw_dns_rfc2136_rx_t *rx, const uint8_t *w,
                                 size_t n, tw_dns_err_t *err);

#endif
