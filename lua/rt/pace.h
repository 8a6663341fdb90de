/*
 * pace.h - constant-bit-rate and Poisson pacing on the cycle counter.
 *
 * A pacer hands out grants: how many frames may leave now.  Lua asks once
 * per batch (never spins on a clock itself); the departure schedule and the
 * random gaps are kept here.  The rate can be changed at any time, from any
 * task: a pacer is shared by handle between the states of one run.
 */
#ifndef NMLUA_PACE_H
#define NMLUA_PACE_H

#include <stdint.h>

/* ffi:begin */
struct nmlua_pace;
/* A pacer at `pps` frames per second (0: no limit), constant gaps
 * (poisson 0) or exponential ones (poisson 1), at most `burst` frames per
 * grant (0: 32), making up the frames due in the last `catchup` seconds
 * after a stall.  NULL when the registry is full or out of memory. */
struct nmlua_pace *nmlua_pace_new(double pps, int poisson, uint32_t burst, double catchup);
/* The pacer of handle `id` (from nmlua_pace_id()), or NULL. */
struct nmlua_pace *nmlua_pace_get(int id);
int nmlua_pace_id(const struct nmlua_pace *p);
/* Frames that may leave now, at most `max` (0 .. burst). */
uint32_t nmlua_pace_grant(struct nmlua_pace *p, uint32_t max);
/* Give back `n` frames of the last grant that could not be sent (a full
 * ring): they leave at the next grant instead of being lost to the rate. */
void nmlua_pace_unused(struct nmlua_pace *p, uint32_t n);
/* Change the rate (takes effect at the next grant); 0: no limit. */
void nmlua_pace_set_rate(struct nmlua_pace *p, double pps);
double nmlua_pace_rate(const struct nmlua_pace *p);
/* Frames granted since the pacer was made. */
double nmlua_pace_granted(const struct nmlua_pace *p);
/* Frames that were due longer ago than the catch-up, never granted. */
double nmlua_pace_missed(const struct nmlua_pace *p);
/* ffi:end */

#endif
