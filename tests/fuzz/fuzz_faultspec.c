/*
 * fuzz_faultspec.c: faultspec_parse on any text.  What is accepted has a
 * known kind, a probability within (0, 100%], a jitter no larger than its
 * delay, and writes back (faultspec_format) to a SPEC that parses to the
 * same fault; what is refused has a cause.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultspec.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fault_spec	 f, g;
	char			*s = fuzz_cstr(data, size), *cause = NULL;
	char			 buf[160];
	int			 rc, n;

	rc = faultspec_parse(s, &f, &cause);
	FUZZ_CHECK(faultspec_parse(s, &g, NULL) == rc, "'%s': cause changes "
	    "rc", s);
	if (rc != 0) {
		FUZZ_CHECK(rc == -1, "'%s': rc %d", s, rc);
		FUZZ_CHECK(cause != NULL, "'%s': no cause", s);
		free(cause);
		free(s);
		return (0);
	}
	FUZZ_CHECK(cause == NULL, "'%s': cause on success: %s", s, cause);
	FUZZ_CHECK(f.kind < FAULT_KINDS, "'%s': kind %d", s, (int)f.kind);
	FUZZ_CHECK(f.ppm > 0 && f.ppm <= FAULT_ALWAYS, "'%s': ppm %u", s,
	    f.ppm);
	FUZZ_CHECK(f.jitter_us <= f.arg, "'%s': jitter %llu > %llu", s,
	    (unsigned long long)f.jitter_us, (unsigned long long)f.arg);
	FUZZ_CHECK(faultspec_applies(f.kind) != 0, "'%s': applies to none", s);
	FUZZ_CHECK(strlen(s) <= FAULT_SPEC_MAX, "'%s': too long accepted", s);
	n = faultspec_format(&f, buf, sizeof buf);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof buf, "'%s': format %d", s, n);
	FUZZ_CHECK(faultspec_parse(buf, &g, &cause) == 0, "'%s' -> '%s': %s",
	    s, buf, cause);
	FUZZ_CHECK(memcmp(&f, &g, sizeof f) == 0, "'%s' -> '%s' differs", s,
	    buf);
	free(s);
	return (0);
}
