/*
 * libFuzzer target for Flink's duration syntax: any bytes must either
 * parse to a non-negative number of milliseconds or fail with a message,
 * never crash; a parsed value printed back as bare milliseconds must parse
 * to the same value.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sluice/config.h"
#include "util/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = sluice__strndup((const char *)data, size);
	char again[32];
	int64_t ms, ms2;

	if (!text)
		return 0;
	if (sluice_parse_duration(text, &ms) == 0) {
		if (ms < 0)
			__builtin_trap();
		snprintf(again, sizeof(again), "%lld", (long long)ms);
		if (sluice_parse_duration(again, &ms2) != 0 || ms2 != ms)
			__builtin_trap();
	}
	sluice__free(text);
	return 0;
}
