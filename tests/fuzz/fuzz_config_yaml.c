/*
 * libFuzzer target for configuration loading: any bytes as a YAML file,
 * then validation, settings and every typed getter.  Must never crash or
 * leak; a failed load must leave the config empty; validation agrees
 * with its problem list.
 */
#include <stdint.h>
#include <string.h>

#include "sluice/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every option through the getter of its type. */
static void read_all(const sluice_config *c)
{
	sluice_checkpoint_settings s;
	const sluice_option *o;
	const char *str;
	uint64_t u;
	int64_t l;
	double d;
	size_t i;
	int b;

	(void)sluice_config_checkpoint_settings(c, &s);
	for (i = 0; (o = sluice_option_at(i)) != NULL; i++) {
		switch (o->type) {
		case SLUICE_OPT_BOOL:
			(void)sluice_config_get_bool(c, o->key, &b);
			break;
		case SLUICE_OPT_INT:
		case SLUICE_OPT_LONG:
			(void)sluice_config_get_long(c, o->key, &l);
			break;
		case SLUICE_OPT_DURATION:
			(void)sluice_config_get_duration(c, o->key, &l);
			break;
		case SLUICE_OPT_MEMORY:
			(void)sluice_config_get_memory(c, o->key, &u);
			break;
		case SLUICE_OPT_DOUBLE:
			(void)sluice_config_get_double(c, o->key, &d);
			break;
		case SLUICE_OPT_ENUM:
			(void)sluice_config_get_enum(c, o->key, &b);
			break;
		case SLUICE_OPT_STRING:
		case SLUICE_OPT_URI:
			(void)sluice_config_get_string(c, o->key, &str);
			break;
		}
	}
}

/* validate's result agrees with the problem list; entries are there. */
static void check_lists(const sluice_config *c, int rc)
{
	size_t i;

	if ((rc == 0) != (sluice_config_problem_count(c) == 0))
		__builtin_trap();
	for (i = 0; i < sluice_config_problem_count(c); i++)
		if (!sluice_config_problem(c, i))
			__builtin_trap();
	for (i = 0; i < sluice_config_warning_count(c); i++)
		if (!sluice_config_warning(c, i))
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sluice_config *c;

	if (sluice_config_new(&c) < 0)
		return 0;
	if (sluice_config_load_string(
		    c, (const char *)data, size, "fuzz.yaml",
		    SLUICE_CONFIG_FILE) < 0) {
		if (sluice_config_entry_count(c) != 0)
			__builtin_trap();
	} else {
		check_lists(c, sluice_config_validate(c));
		read_all(c);
	}
	sluice_config_free(c);
	return 0;
}
