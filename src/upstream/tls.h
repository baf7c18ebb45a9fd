/* tls.h — OpenSSL set-up for the upstream client (used by upstream.c only).
 *
 * OpenSSL's error strings (a table of every library's error messages) are
 * not loaded at start-up: they were 0.66 MB of an idle ccproxy's 10.5 MB and
 * are needed only when a TLS connection fails. On that failure, the numeric
 * code curl put in its message is turned back into OpenSSL's text. */
#ifndef CCP_UPSTREAM_TLS_H
#define CCP_UPSTREAM_TLS_H

/* Call once, before curl_global_init (which initialises OpenSSL). */
void ccp_tls_global_init(void);

/* For a curl error message holding OpenSSL codes without their text
 * ("error:0A00010B:lib(20)::reason(267)"), returns the message with each
 * code spelt out ("error:0A00010B:SSL routines::wrong version number"),
 * malloc'd (caller frees); NULL when there is nothing to spell out.
 * Thread-safe: the strings are loaded on first use. */
char *ccp_tls_error_text(const char *msg);

#endif
