/* cmd_version.c — `ccproxy version`: this build and the libraries it runs on. */
#include "cli/cli.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>
#include <yaml.h>

int ccp_cmd_version(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        puts("usage: ccproxy version\n\nPrints the version of ccproxy and of its libraries.");
        return 0;
    }
    printf("ccproxy %s (libuv %s, libcurl %s, json-c %s, libyaml %s)\n", CCP_VERSION,
           uv_version_string(), curl_version_info(CURLVERSION_NOW)->version, json_c_version(),
           yaml_get_version_string());
    return 0;
}
