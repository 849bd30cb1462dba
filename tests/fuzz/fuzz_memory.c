/*
 * libFuzzer target for Flink's memory-size syntax: any bytes must parse to
 * at most INT64_MAX bytes or fail with a message, never crash; a parsed
 * value printed back as bare bytes must parse to the same value.
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
	uint64_t b, b2;

	if (!text)
		return 0;
	if (sluice_parse_memory(text, &b) == 0) {
		if (b > (uint64_t)INT64_MAX)
			__builtin_trap();
		snprintf(again, sizeof(again), "%llu", (unsigned long long)b);
		if (sluice_parse_memory(again, &b2) != 0 || b2 != b)
			__builtin_trap();
	}
	sluice__free(text);
	return 0;
}
