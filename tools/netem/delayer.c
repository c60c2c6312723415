/* Bouquet's packet delayer: holds each packet of one NFQUEUE queue for a fixed delay, then accepts it (the kernel here has no netem). */
/*
 * Usage: bouquet-delayer QUEUE_NUM DELAY_US MAX_PACKETS
 * Speaks nfnetlink_queue over a raw netlink socket (no libnetfilter_queue on this machine, only the
 * kernel headers). Packets wait in a FIFO ring of MAX_PACKETS (one fixed delay per queue keeps it in
 * release order); a packet arriving at a full ring is dropped and counted, like netem's limit. The
 * kernel side is capped at the same length. On SIGTERM/SIGINT every held packet is accepted before
 * exit, and the iptables rule uses --queue-bypass, so a delayer that dies never blackholes traffic.
 * Prints "ready" once bound and, at exit, "accepted N dropped M".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static int fd;
static uint16_t queue_num;
static uint32_t seq = 1;

struct held { uint32_t id; uint64_t release_us; };
static struct held *ring;
static uint32_t cap, head, count;
static unsigned long accepted, dropped;

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void put_attr(char *buf, size_t *len, uint16_t type, const void *data, uint16_t size) {
  struct nlattr *a = (struct nlattr *)(buf + *len);
  a->nla_type = type;
  a->nla_len = (uint16_t)(NLA_HDRLEN + size);
  memcpy(buf + *len + NLA_HDRLEN, data, size);
  *len += NLA_ALIGN(a->nla_len);
}

static size_t start_msg(char *buf, uint16_t type, uint16_t flags) {
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  memset(buf, 0, NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg)));
  h->nlmsg_type = (uint16_t)((NFNL_SUBSYS_QUEUE << 8) | type);
  h->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
  h->nlmsg_seq = seq++;
  struct nfgenmsg *g = (struct nfgenmsg *)(buf + NLMSG_HDRLEN);
  g->nfgen_family = AF_UNSPEC;
  g->version = NFNETLINK_V0;
  g->res_id = htons(queue_num);
  return NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
}

static int send_msg(char *buf, size_t len) {
  ((struct nlmsghdr *)buf)->nlmsg_len = (uint32_t)len;
  struct sockaddr_nl to = { .nl_family = AF_NETLINK };
  return sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof to) < 0 ? -1 : 0;
}

static void verdict(uint32_t id, uint32_t v) {
  char buf[128];
  size_t len = start_msg(buf, NFQNL_MSG_VERDICT, 0);
  struct nfqnl_msg_verdict_hdr vh = { .verdict = htonl(v), .id = htonl(id) };
  put_attr(buf, &len, NFQA_VERDICT_HDR, &vh, sizeof vh);
  if (send_msg(buf, len) == 0 && v == NF_ACCEPT) accepted++;
}

static int configure(void) {
  char buf[256];
  size_t len = start_msg(buf, NFQNL_MSG_CONFIG, NLM_F_ACK);
  struct nfqnl_msg_config_cmd cmd = { .command = NFQNL_CFG_CMD_BIND, .pf = htons(AF_INET) };
  put_attr(buf, &len, NFQA_CFG_CMD, &cmd, sizeof cmd);
  if (send_msg(buf, len) < 0) return -1;
  len = start_msg(buf, NFQNL_MSG_CONFIG, NLM_F_ACK);
  struct nfqnl_msg_config_params params = { .copy_range = htonl(0), .copy_mode = NFQNL_COPY_META };
  put_attr(buf, &len, NFQA_CFG_PARAMS, &params, sizeof params);
  uint32_t maxlen = htonl(cap);
  put_attr(buf, &len, NFQA_CFG_QUEUE_MAXLEN, &maxlen, sizeof maxlen);
  if (send_msg(buf, len) < 0) return -1;
  /* Two acks: an error code other than 0 means the bind or the parameters were refused. */
  for (int acks = 0; acks < 2;) {
    char rb[4096];
    ssize_t n = recv(fd, rb, sizeof rb, 0);
    if (n < 0) return -1;
    for (struct nlmsghdr *h = (struct nlmsghdr *)rb; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = (struct nlmsgerr *)NLMSG_DATA(h);
        if (e->error != 0) { errno = -e->error; return -1; }
        acks++;
      }
    }
  }
  return 0;
}

static void on_packet(struct nlmsghdr *h, uint64_t delay_us) {
  size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
  while (off + NLA_HDRLEN <= h->nlmsg_len) {
    struct nlattr *a = (struct nlattr *)((char *)h + off);
    if (a->nla_len < NLA_HDRLEN || off + a->nla_len > h->nlmsg_len) return;
    if ((a->nla_type & NLA_TYPE_MASK) == NFQA_PACKET_HDR && a->nla_len >= NLA_HDRLEN + sizeof(struct nfqnl_msg_packet_hdr)) {
      struct nfqnl_msg_packet_hdr *ph = (struct nfqnl_msg_packet_hdr *)((char *)a + NLA_HDRLEN);
      uint32_t id = ntohl(ph->packet_id);
      if (count == cap) { verdict(id, NF_DROP); dropped++; return; }
      ring[(head + count) % cap] = (struct held){ id, now_us() + delay_us };
      count++;
      return;
    }
    off += NLA_ALIGN(a->nla_len);
  }
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: %s QUEUE_NUM DELAY_US MAX_PACKETS\n", argv[0]); return 2; }
  queue_num = (uint16_t)strtoul(argv[1], NULL, 10);
  uint64_t delay_us = strtoull(argv[2], NULL, 10);
  cap = (uint32_t)strtoul(argv[3], NULL, 10);
  if (cap == 0 || cap > 1000000 || delay_us > 10000000) { fprintf(stderr, "bad arguments\n"); return 2; }
  ring = calloc(cap, sizeof *ring);
  if (ring == NULL) return 1;
  struct sigaction sa = { .sa_handler = on_signal };
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
  if (fd < 0) { perror("socket"); return 1; }
  int rcvbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
  struct sockaddr_nl me = { .nl_family = AF_NETLINK };
  if (bind(fd, (struct sockaddr *)&me, sizeof me) < 0) { perror("bind"); return 1; }
  if (configure() < 0) { perror("nfqueue bind"); return 1; }
  printf("ready\n");
  fflush(stdout);
  char buf[65536];
  while (!stopping) {
    uint64_t t = now_us();
    while (count > 0 && ring[head].release_us <= t) {
      verdict(ring[head].id, NF_ACCEPT);
      head = (head + 1) % cap;
      count--;
    }
    int timeout_ms = 100;
    if (count > 0) {
      uint64_t wait = ring[head].release_us - t;
      timeout_ms = (int)((wait + 999) / 1000);
    }
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) continue;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if ((h->nlmsg_type & 0xff) == NFQNL_MSG_PACKET && (h->nlmsg_type >> 8) == NFNL_SUBSYS_QUEUE) on_packet(h, delay_us);
    }
  }
  while (count > 0) { verdict(ring[head].id, NF_ACCEPT); head = (head + 1) % cap; count--; }
  printf("accepted %lu dropped %lu\n", accepted, dropped);
  return 0;
}
