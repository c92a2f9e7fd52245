#ifndef RINGLAB_CIIO_SHIM_H
#define RINGLAB_CIIO_SHIM_H
// libiio 0.24 (Debian 12: libiio-dev). Only ReservoirHardware/IIOCalls.swift imports this module.
#include <iio.h>
#endif
