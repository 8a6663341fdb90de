/*
 * clock.h - the cycle counter that nmlua's pacing, stamps and stop times
 * run on, calibrated once against CLOCK_MONOTONIC.
 *
 * The part between "ffi:begin" and "ffi:end" is also the FFI declaration
 * that Lua sees (lua/gen-cdefs.sh copies it into nmkit/cdefs.lua), so it is
 * written in the subset of C that LuaJIT's parser reads: no macros, no
 * attributes.
 */
#ifndef NMLUA_CLOCK_H
#define NMLUA_CLOCK_H

#include <stdint.h>

/* ffi:begin */
/* The counter now: TSC ticks on x86_64, nanoseconds elsewhere. */
uint64_t nmlua_cycles(void);
/* Ticks per second of nmlua_cycles() (measured on first use). */
double nmlua_cycles_hz(void);
/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t nmlua_now_ns(void);
/* CLOCK_REALTIME in nanoseconds (pcap timestamps). */
uint64_t nmlua_wall_ns(void);
/* Sleep `seconds`, waking early (returning 1) when the run is stopped. */
int nmlua_sleep(double seconds);
/* ffi:end */

#endif
