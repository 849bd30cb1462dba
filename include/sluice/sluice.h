/* The whole public API of sluice. */
#ifndef SLUICE_H
#define SLUICE_H

#include "common.h"
#include "clock.h"
#include "log.h"
#include "failure.h"
#include "state.h"

#endif
