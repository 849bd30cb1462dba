/*
 * Configuration options shared by commands that take them: `--config FILE`
 * and `-D key=value` (also `-Dkey=value`).  The file is loaded when seen and
 * -D values are set as they come, with SLUICE_CONFIG_DYNAMIC as source, so
 * precedence is default < file < -D whatever the order on the line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cmd.h"
#include "sluice/config.h"
#include "sluice/sys/storage.h"

int cli_config_opt(
	sluice_config *conf, const char *cmdname, int argc, char **argv, int *i)
{
	const char *arg = argv[*i], *val;

	if (!strcmp(arg, "--config") || !strcmp(arg, "-D")) {
		if (*i + 1 >= argc) {
			cli_error(
				"%s: %s needs %s", cmdname, arg,
				arg[1] == 'D' ? "key=value" : "a FILE");
			return -1;
		}
		val = argv[++*i];
	} else if (!strncmp(arg, "-D", 2)) {
		val = arg + 2;
	} else if (!strncmp(arg, "--config=", 9)) {
		val = arg + 9;
		arg = "--config";
	} else {
		return 0;
	}
	if (!strcmp(arg, "--config")
		    ? sluice_config_load_file(conf, val, SLUICE_CONFIG_FILE) < 0
		    : sluice_config_set_arg(conf, val) < 0) {
		cli_error_last(cmdname);
		return -1;
	}
	return 1;
}

int cli_storage_for(
	const sluice_config *conf, const char *cmdname, const char *uri)
{
	static const char *const schemes[] = {"s3", "obs", "hdfs", "webhdfs"};
	sluice_storage *st;
	size_t i, n;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		n = strlen(schemes[i]);
		if (strncmp(uri, schemes[i], n) || strncmp(uri + n, "://", 3))
			continue;
		/* lives until the process exits: the registry borrows it */
		if ((i < 2 ? sluice_storage_s3_new(&st, schemes[i], conf)
			   : sluice_storage_hdfs_new(&st, schemes[i], conf)) <
			    0 ||
		    sluice_storage_register(st) < 0) {
			cli_error_last(cmdname);
			return -1;
		}
	}
	return 0;
}

cJSON *cli_read_json(const char *path)
{
	char *text = NULL;
	cJSON *doc = NULL;
	long len = -1;
	FILE *f = fopen(path, "rb");

	if (f && !fseek(f, 0, SEEK_END) && (len = ftell(f)) >= 0 &&
	    !fseek(f, 0, SEEK_SET) && (text = malloc((size_t)len + 1)) &&
	    fread(text, 1, (size_t)len, f) == (size_t)len) {
		text[len] = '\0';
		doc = cJSON_Parse(text);
	}
	if (f)
		fclose(f);
	free(text);
	return doc;
}
