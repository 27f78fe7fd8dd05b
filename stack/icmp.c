/* ICMP: temporary bodies keep the tree linking; the real module follows. */
#include "icmp.h"
#include "stack.h"
void icmp_send(struct sk_buff *skb_in, int type, int code, uint32_t info) { (void)skb_in; (void)type; (void)code; (void)info; }
int icmp_rcv(struct sk_buff *skb) { kfree_skb(skb); return 0; }
int icmp_err_convert(int type, int code, int *fatal) { (void)type; (void)code; *fatal = 0; return 0; }
int icmp_init(struct nstack *ns) { (void)ns; return 0; }
void icmp_exit(struct nstack *ns) { (void)ns; }
