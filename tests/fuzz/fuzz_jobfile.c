/*
 * libFuzzer target for job files (src/jobs/): any bytes as a job file,
 * loaded (parse, structure, parameters, trial build) and, when valid,
 * built with its configuration.  Must never crash or leak; a failed load
 * must leave the configuration empty and name a position.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/jobfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sluice_config *conf;
	sluice_jobfile *jf = NULL;
	sluice_job *job;
	char id[33];

	if (sluice_config_new(&conf) < 0)
		return 0;
	if (sluice_jobfile_load_string(
		    &jf, (const char *)data, size, "fuzz.yaml", conf) == 0) {
		sluice_jobfile_job_id(jf, id);
		(void)sluice_jobfile_build(jf, NULL, NULL, &job);
		sluice_jobfile_free(jf);
	} else if (sluice_config_entry_count(conf) != 0) {
		abort(); /* a failed load changed the configuration */
	}
	sluice_config_free(conf);
	return 0;
}
