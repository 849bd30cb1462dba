/* placeholder until cmd files land */
#include <stdio.h>
#include "sluice/sluice.h"
int main(void)
{
	printf("sluice %s\n", sluice_version());
	return 0;
}
