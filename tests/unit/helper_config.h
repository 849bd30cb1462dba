/* Shared assertions of the configuration tests. */
#ifndef SLUICE_TEST_HELPER_CONFIG_H
#define SLUICE_TEST_HELPER_CONFIG_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "sluice/config.h"

/* Fail unless `hay` contains `needle`; prints both. */
#define assert_contains(hay, needle)                          \
	do {                                                  \
		const char *h_ = (hay), *n_ = (needle);       \
		if (!h_ || !strstr(h_, n_))                   \
			fail_msg(                             \
				"'%s' does not contain '%s'", \
				h_ ? h_ : "(null)", n_);      \
	} while (0)

/* Index of the first problem / warning containing `needle`, or -1. */
static inline long find_problem(const sluice_config *c, const char *needle)
{
	size_t i;

	for (i = 0; i < sluice_config_problem_count(c); i++)
		if (strstr(sluice_config_problem(c, i), needle))
			return (long)i;
	return -1;
}

static inline long find_warning(const sluice_config *c, const char *needle)
{
	size_t i;

	for (i = 0; i < sluice_config_warning_count(c); i++)
		if (strstr(sluice_config_warning(c, i), needle))
			return (long)i;
	return -1;
}

#endif
