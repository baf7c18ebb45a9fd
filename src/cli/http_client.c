/* http_client.c — a blocking HTTP call to a running ccproxy (http_client.h). */
#include "cli/http_client.h"

#include <curl/curl.h>
#include <string.h>

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    ccp_buf_append(ud, data, size * n);
    return size * n;
}

int ccp_cli_http(const char *method, const char *url, const char *body, long timeout_ms,
                 ccp_buf *out, long *status)
{
    return ccp_cli_http_admin(method, url, body, timeout_ms, NULL, out, status);
}

int ccp_cli_http_admin(const char *method, const char *url, const char *body, long timeout_ms,
                       const char *admin_key, ccp_buf *out, long *status)
{
    CURL *e = curl_easy_init();
    if (!e) return -1;
    struct curl_slist *h = NULL;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* A proxy set in the environment must not carry a call to localhost. */
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
    if (!strcmp(method, "POST")) {
        h = curl_slist_append(h, "content-type: application/json");
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "{}");
    }
    ccp_buf auth = CCP_BUF_INIT;
    if (admin_key && *admin_key) {
        ccp_buf_printf(&auth, "authorization: Bearer %s", admin_key);
        h = curl_slist_append(h, auth.data);
    }
    if (h) curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    CURLcode rc = curl_easy_perform(e);
    *status = 0;
    if (rc == CURLE_OK) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    if (auth.data) explicit_bzero(auth.data, auth.len); /* holds the admin key */
    ccp_buf_free(&auth);
    return rc == CURLE_OK ? 0 : -1;
}
