/*
 * Protocol counters, named as in Linux's /proc/net/snmp and netstat so a
 * reader can compare them. One X-macro list gives both the fields and the
 * names used by nstack_stats_dump() and tests.
 */
#ifndef NSTACK_MIB_H
#define NSTACK_MIB_H

#include <stdint.h>

/* IPv6, ICMPv6 and UDP over IPv6, as /proc/net/snmp6 names them. */
#define NSTACK_MIB6_LIST(X)                                                                        \
	X(Ip6InReceives)                                                                           \
	X(Ip6InHdrErrors)                                                                          \
	X(Ip6InTooBigErrors)                                                                       \
	X(Ip6InNoRoutes)                                                                           \
	X(Ip6InAddrErrors)                                                                         \
	X(Ip6InUnknownProtos)                                                                      \
	X(Ip6InTruncatedPkts)                                                                      \
	X(Ip6InDiscards)                                                                           \
	X(Ip6InDelivers)                                                                           \
	X(Ip6OutRequests)                                                                          \
	X(Ip6OutDiscards)                                                                          \
	X(Ip6OutNoRoutes)                                                                          \
	X(Ip6ReasmTimeout)                                                                         \
	X(Ip6ReasmReqds)                                                                           \
	X(Ip6ReasmOKs)                                                                             \
	X(Ip6ReasmFails)                                                                           \
	X(Ip6ReasmOverlaps)                                                                        \
	X(Ip6FragOKs)                                                                              \
	X(Ip6FragFails)                                                                            \
	X(Ip6FragCreates)                                                                          \
	X(Ip6InMcastPkts)                                                                          \
	X(Ip6OutMcastPkts)                                                                         \
	X(Icmp6InMsgs)                                                                             \
	X(Icmp6InErrors)                                                                           \
	X(Icmp6OutMsgs)                                                                            \
	X(Icmp6OutErrors)                                                                          \
	X(Icmp6InCsumErrors)                                                                       \
	X(Icmp6OutRateLimited)                                                                     \
	X(Icmp6InDestUnreachs)                                                                     \
	X(Icmp6InPktTooBigs)                                                                       \
	X(Icmp6InTimeExcds)                                                                        \
	X(Icmp6InParmProblems)                                                                     \
	X(Icmp6InEchos)                                                                            \
	X(Icmp6InEchoReplies)                                                                      \
	X(Icmp6InRouterSolicits)                                                                   \
	X(Icmp6InRouterAdvertisements)                                                             \
	X(Icmp6InNeighborSolicits)                                                                 \
	X(Icmp6InNeighborAdvertisements)                                                           \
	X(Icmp6InRedirects)                                                                        \
	X(Icmp6OutDestUnreachs)                                                                    \
	X(Icmp6OutParmProblems)                                                                    \
	X(Icmp6OutTimeExcds)                                                                       \
	X(Icmp6OutEchos)                                                                           \
	X(Icmp6OutEchoReplies)                                                                     \
	X(Icmp6OutRouterSolicits)                                                                  \
	X(Icmp6OutNeighborSolicits)                                                                \
	X(Icmp6OutNeighborAdvertisements)                                                          \
	X(Udp6InDatagrams)                                                                         \
	X(Udp6NoPorts)                                                                             \
	X(Udp6InErrors)                                                                            \
	X(Udp6OutDatagrams)                                                                        \
	X(Udp6RcvbufErrors)                                                                        \
	X(Udp6SndbufErrors)                                                                        \
	X(Udp6InCsumErrors)                                                                        \
	X(Udp6IgnoredMulti)                                                                        \
	X(Udp6MemErrors)

#define NSTACK_MIB_LIST(X)                                                                         \
	X(EthInFrames)                                                                             \
	X(EthInRunts)                                                                              \
	X(EthInTruncated)                                                                          \
	X(EthInRingDrops)                                                                          \
	X(EthInUnknownProtos)                                                                      \
	X(EthInOtherHost)                                                                          \
	X(EthInReordered)                                                                          \
	X(EthOutFrames)                                                                            \
	X(EthOutErrors)                                                                            \
	X(EthOutGsoFrames)                                                                         \
	X(EthOutGsoErrors)                                                                         \
	X(EthOutPlugLeaks)                                                                         \
	X(EthRxDirectWakes)                                                                        \
	X(EthInHandoverSkips)                                                                      \
	X(EthDriverMoves)                                                                          \
	X(EthRxRingsJoined)                                                                        \
	X(EthRxSteerings)                                                                          \
	X(StackDeathsInside)                                                                       \
	X(StackRepairs)                                                                            \
	X(ArpInRequests)                                                                           \
	X(ArpInReplies)                                                                            \
	X(ArpInErrors)                                                                             \
	X(ArpOutRequests)                                                                          \
	X(ArpOutReplies)                                                                           \
	X(ArpResolveFailed)                                                                        \
	X(ArpUnresDiscards)                                                                        \
	X(IpInReceives)                                                                            \
	X(IpInHdrErrors)                                                                           \
	X(IpInCsumErrors)                                                                          \
	X(IpInTruncatedPkts)                                                                       \
	X(IpInAddrErrors)                                                                          \
	X(IpInUnknownProtos)                                                                       \
	X(IpInDiscards)                                                                            \
	X(IpInDelivers)                                                                            \
	X(IpOutRequests)                                                                           \
	X(IpOutDiscards)                                                                           \
	X(IpOutNoRoutes)                                                                           \
	X(IpReasmTimeout)                                                                          \
	X(IpReasmReqds)                                                                            \
	X(IpReasmOKs)                                                                              \
	X(IpReasmFails)                                                                            \
	X(IpReasmOverlaps)                                                                         \
	X(IpFragOKs)                                                                               \
	X(IpFragFails)                                                                             \
	X(IpFragCreates)                                                                           \
	X(IcmpInMsgs)                                                                              \
	X(IcmpInErrors)                                                                            \
	X(IcmpInCsumErrors)                                                                        \
	X(IcmpInDestUnreachs)                                                                      \
	X(IcmpInTimeExcds)                                                                         \
	X(IcmpInEchos)                                                                             \
	X(IcmpInEchoReps)                                                                          \
	X(IcmpOutMsgs)                                                                             \
	X(IcmpOutErrors)                                                                           \
	X(IcmpOutRateLimited)                                                                      \
	X(IcmpOutDestUnreachs)                                                                     \
	X(IcmpOutTimeExcds)                                                                        \
	X(IcmpOutEchos)                                                                            \
	X(IcmpOutEchoReps)                                                                         \
	NSTACK_MIB6_LIST(X)                                                                        \
	X(UdpInDatagrams)                                                                          \
	X(UdpNoPorts)                                                                              \
	X(UdpInErrors)                                                                             \
	X(UdpInCsumErrors)                                                                         \
	X(UdpRcvbufErrors)                                                                         \
	X(UdpMemErrors)                                                                            \
	X(UdpOutDatagrams)                                                                         \
	X(UdpSndbufErrors)                                                                         \
	X(UdpIgnoredMulti)                                                                         \
	X(RawInDatagrams)                                                                          \
	X(RawOutDatagrams)                                                                         \
	X(TcpActiveOpens)                                                                          \
	X(TcpPassiveOpens)                                                                         \
	X(TcpAttemptFails)                                                                         \
	X(TcpEstabResets)                                                                          \
	X(TcpInSegs)                                                                               \
	X(TcpOutSegs)                                                                              \
	X(TcpRetransSegs)                                                                          \
	X(TcpInErrs)                                                                               \
	X(TcpInCsumErrors)                                                                         \
	X(TcpOutRsts)                                                                              \
	X(TcpExtSyncookiesSent)                                                                    \
	X(TcpExtSyncookiesRecv)                                                                    \
	X(TcpExtSyncookiesFailed)                                                                  \
	X(TcpExtListenOverflows)                                                                   \
	X(TcpExtListenDrops)                                                                       \
	X(TcpSynStaleDrops)                                                                        \
	X(TcpExtOutOfWindowIcmps)                                                                  \
	X(TcpExtTCPChallengeACK)                                                                   \
	X(TcpExtTCPFastRetrans)                                                                    \
	X(TcpExtTCPSackRecovery)                                                                   \
	X(TcpExtTCPRenoRecovery)                                                                   \
	X(TcpExtTCPTimeouts)                                                                       \
	X(TcpExtTCPOFOQueue)                                                                       \
	X(TcpExtPAWSEstabRejected)                                                                 \
	X(TcpExtTW)                                                                                \
	X(TcpExtTCPTimeWaitOverflow)                                                               \
	X(TcpExtTCPKeepAlive)                                                                      \
	X(TcpExtDelayedACKs)                                                                       \
	X(TcpExtTCPAbortOnTimeout)                                                                 \
	X(TcpExtTCPAbortOnData)                                                                    \
	X(TcpExtTCPAbortOnClose)                                                                   \
	X(TcpExtTCPAbortOnLinger)                                                                  \
	X(TcpExtTCPAbortOnMemory)                                                                  \
	X(TcpExtTCPLossProbes)                                                                     \
	X(TcpExtTCPLossProbeRecovery)                                                              \
	X(TcpExtTCPSACKReorder)                                                                    \
	X(TcpExtTCPLostRetransmit)                                                                 \
	X(TcpExtTCPDSACKRecv)                                                                      \
	X(TcpExtTCPDSACKOfoRecv)                                                                   \
	X(TcpExtTCPFastOpenActive)                                                                 \
	X(TcpExtTCPFastOpenActiveFail)                                                             \
	X(TcpExtTCPFastOpenPassive)                                                                \
	X(TcpExtTCPFastOpenPassiveFail)                                                            \
	X(TcpExtTCPFastOpenCookieReqd)                                                             \
	X(TcpExtTCPFastOpenListenOverflow)                                                         \
	X(TcpExtPruneCalled)                                                                       \
	X(TcpExtRcvPruned)                                                                         \
	X(TcpExtOfoPruned)                                                                         \
	X(TcpExtTCPRcvCollapsed)                                                                   \
	X(TcpExtTCPRcvQDrop)                                                                       \
	X(TcpExtTCPOFODrop)                                                                        \
	X(TcpExtTCPZeroWindowDrop)                                                                 \
	X(TcpExtTCPMemoryPressures)

struct nstack_mib {
#define NSTACK_MIB_FIELD(name) uint64_t name;
	NSTACK_MIB_LIST(NSTACK_MIB_FIELD)
#undef NSTACK_MIB_FIELD
};

#define NS_INC_STATS(ns, field)	   ((ns)->mib.field++)
#define NS_ADD_STATS(ns, field, n) ((ns)->mib.field += (n))

#endif
