/*
 * netloss.bpf.c: a tc clsact BPF program that drops LOSS_PCT % of the
 * packets leaving a device, at random (netns.py's bpf_loss(), for
 * kernels without sch_netem). The drops are real: the packet never
 * reaches the wire, and TCP retransmits it as it would a lost one.
 *
 *	clang -O2 -target bpf -DLOSS_PCT=1 -c netloss.bpf.c -o netloss.o
 *	tc qdisc add dev DEV clsact
 *	tc filter add dev DEV egress bpf direct-action obj netloss.o sec tc
 *
 * No libbpf headers: the one helper is declared by its number.
 */

#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#ifndef LOSS_PCT
#define LOSS_PCT 1
#endif

static unsigned int (*get_prandom_u32)(void) =
    (void *)BPF_FUNC_get_prandom_u32;

__attribute__((section("tc"), used)) int
netloss(struct __sk_buff *skb)
{
	(void)skb;
	return get_prandom_u32() % 100 < LOSS_PCT ? TC_ACT_SHOT : TC_ACT_OK;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
