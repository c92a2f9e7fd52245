#ifndef RINGLAB_CGPIOD_SHIM_H
#define RINGLAB_CGPIOD_SHIM_H
// libgpiod 1.6 (v1 API; Debian 12: libgpiod-dev). Only ReservoirHardware/GPIODCalls.swift imports this module.
#include <gpiod.h>
#endif
