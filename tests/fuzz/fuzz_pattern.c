/* Fuzzes the pattern compiler and matcher: the input is a list of patterns (one per line)
 * followed, after an empty line, by hosts to match. Checks that compiling never fails
 * loosely (a failure names a pattern of the input), that every exact name or literal pattern
 * matches the host it names (on the port it names), and that matching never crashes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "fuzz_check.h"
#include "policy/pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *lines[MAX_LINES], *hosts[MAX_LINES];
	size_t n = 0, nh = 0;
	struct pc_pattern_set *set = NULL;
	struct pc_pattern_error err;
	char *save = NULL, *line;
	bool in_hosts = false;
	int rc;

	if (size > 8192)
		return 0;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* a NUL byte ends the input: patterns are C strings */
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, "--") == 0) {
			in_hosts = true;
			continue;
		}
		if (in_hosts && nh < MAX_LINES)
			hosts[nh++] = line;
		else if (!in_hosts && n < MAX_LINES)
			lines[n++] = line;
	}
	for (unsigned flags = 0; flags < 4; flags++) {
		rc = pc_pattern_set_build((const char *const *)lines, n, flags, &set, &err);
		if (rc == PC_EPATTERN) {
			CHECK(err.index < n && strstr(err.msg, "invalid pattern") != NULL);
			continue;
		}
		if (rc < 0)
			continue;
		CHECK(pc_pattern_set_size(set) == n);
		for (size_t i = 0; i < n; i++) {
			/* a plain name or literal pattern names its own host */
			struct pc_host h;
			if (strpbrk(lines[i], "*?/:[ \t") == NULL &&
			    pc_host_normalize(lines[i], strlen(lines[i]), 0, &h) == 0)
				CHECK(pc_pattern_set_match(set, &h, 443) == PC_MATCH_EXACT);
		}
		for (size_t i = 0; i < nh; i++) {
			struct pc_host h;
			uint16_t port = 0;
			if (pc_authority_parse(hosts[i], strlen(hosts[i]), &h, &port) == 0) {
				pc_pattern_set_match(set, &h, port ? port : 80);
				if (h.kind != PC_HOST_NAME)
					pc_pattern_set_match_addr(set, &h.addr.sa,
					                          port ? port : 80);
			}
		}
		pc_pattern_set_free(set);
		set = NULL;
	}
	free(text);
	return 0;
}
