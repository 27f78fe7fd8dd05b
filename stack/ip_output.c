/* IPv4 output: temporary bodies keep the tree linking; the real module follows. */
#include <errno.h>
#include "ip.h"
#include "stack.h"
int ip_build_and_send(struct nstack *ns, struct sk_buff *skb, uint32_t saddr, uint32_t daddr, uint8_t protocol, const struct ip_tx_params *p) { (void)ns; (void)saddr; (void)daddr; (void)protocol; (void)p; kfree_skb(skb); return -ENOSYS; }
int ip_send_raw(struct nstack *ns, struct sk_buff *skb) { (void)ns; kfree_skb(skb); return -ENOSYS; }
uint16_t ip_select_ident(struct nstack *ns) { (void)ns; return 0; }
