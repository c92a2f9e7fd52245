#ifndef RINGLAB_CBLAS_SHIM_H
#define RINGLAB_CBLAS_SHIM_H
// OpenBLAS's CBLAS interface (Debian 12: libopenblas-dev). Only NeuralNet/BLASCalls.swift imports it.
#include <cblas.h>
#endif
