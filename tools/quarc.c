#include "quarc/quarc.h"
#include <stdio.h>
int main(void) { printf("quarc %s\n", qc_version()); return 0; }
