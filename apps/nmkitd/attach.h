/*
 * attach.h - NICs attached to VALE switches, each served by a worker
 * thread of the broker.
 */
#ifndef NMKITD_ATTACH_H
#define NMKITD_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;

/* Start serving NIC `ifname` on switch port `name` ("valeX:ifname"); with
 * tap, a tap device of that name that the tap driver creates (a host
 * stack port, vale-ctl -h).  The request (conn_id, seq) is answered by
 * attach_poll once the worker has opened both ports or failed.  Workers
 * signal b->notify_fd when they change state.  Returns 0, or a negative
 * errno with err. */
int attach_nic(struct broker *b, const char *name, const char *ifname, bool tap,
	       uint64_t conn_id, uint32_t seq, char *err, size_t errlen);
/* Ask the worker of `name` to stop; -ENOENT if no NIC is attached so. */
int detach_nic(struct broker *b, const char *name, char *err, size_t errlen);
/* Is `name` a switch port served by a NIC worker? */
bool attach_is_nic(const struct broker *b, const char *name);
/* After a notification: answer started workers' requests (attach_answer),
 * reap the ones that stopped. */
void attach_poll(struct broker *b);
/* At shutdown. */
void attach_stop_all(struct broker *b);

#endif /* NMKITD_ATTACH_H */
