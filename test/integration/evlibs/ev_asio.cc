// Boost.Asio (header-only) echo programs for the nstack lab (case_evlibs.sh),
// all asynchronous on one io_context.
//
//   ev_asio tcp-server PORT             async_accept one connection;
//                                       async_read_some / async_write echo
//                                       until EOF, then shutdown(send) and
//                                       close. Prints "ready".
//   ev_asio tcp-client HOST PORT IN OUT async_connect; async_write of file IN
//                                       (in 64 KiB pieces) while async_read_some
//                                       writes the echo to OUT; shutdown(send)
//                                       after the last byte, read to EOF.
//   ev_asio udp-server PORT             async_receive_from / async_send_to
//                                       echo; exits on "quit" or 10 s idle.
//   ev_asio udp-client HOST PORT N      N datagrams (8..1400 bytes), each
//                                       waited for (1 s, 3 tries) and compared.
//
// Everything is bounded by a 30 s steady_timer. Exit status 0 only on success.
#include <boost/asio.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using boost::system::error_code;

static int status = 1;

static void fail(asio::io_context &io, const char *what, const error_code &ec)
{
	std::cerr << "ev_asio: " << what << ": " << ec.message() << std::endl;
	status = 1;
	io.stop();
}

// ---- TCP server ----

struct session : std::enable_shared_from_this<session> {
	tcp::socket s;
	asio::io_context &io;
	char buf[65536];
	session(tcp::socket sock, asio::io_context &io) : s(std::move(sock)), io(io) {}

	void read()
	{
		auto self = shared_from_this();
		s.async_read_some(asio::buffer(buf), [this, self](error_code ec, size_t n) {
			if (ec == asio::error::eof) {
				s.shutdown(tcp::socket::shutdown_send, ec);
				if (ec)
					return fail(io, "shutdown", ec);
				s.close();
				status = 0;
				io.stop();
				return;
			}
			if (ec)
				return fail(io, "server read", ec);
			asio::async_write(s, asio::buffer(buf, n), [this, self](error_code ec, size_t) {
				if (ec)
					return fail(io, "server write", ec);
				read();
			});
		});
	}
};

static int tcp_server(asio::io_context &io, int port)
{
	tcp::acceptor acc(io, tcp::endpoint(tcp::v4(), port)); // reuse_address by default
	acc.async_accept([&](error_code ec, tcp::socket sock) {
		if (ec)
			return fail(io, "accept", ec);
		std::cerr << "connection from " << sock.remote_endpoint() << std::endl;
		acc.close();
		std::make_shared<session>(std::move(sock), io)->read();
	});
	std::printf("ready\n");
	std::fflush(stdout);
	io.run();
	return status;
}

// ---- TCP client ----

struct client {
	asio::io_context &io;
	tcp::socket s;
	std::vector<char> data;
	size_t off = 0;
	bool sent = false;
	std::ofstream out;
	char buf[65536];
	client(asio::io_context &io) : io(io), s(io) {}

	void write()
	{
		if (off == data.size()) {
			error_code ec;
			s.shutdown(tcp::socket::shutdown_send, ec);
			if (ec)
				return fail(io, "shutdown", ec);
			sent = true;
			return;
		}
		size_t n = std::min<size_t>(65536, data.size() - off);
		asio::async_write(s, asio::buffer(&data[off], n), [this](error_code ec, size_t n) {
			if (ec)
				return fail(io, "client write", ec);
			off += n;
			write();
		});
	}
	void read()
	{
		s.async_read_some(asio::buffer(buf), [this](error_code ec, size_t n) {
			if (ec == asio::error::eof) {
				if (!sent)
					return fail(io, "EOF before everything was sent", ec);
				status = 0;
				io.stop();
				return;
			}
			if (ec)
				return fail(io, "client read", ec);
			out.write(buf, n);
			read();
		});
	}
};

static int tcp_client(asio::io_context &io, const char *host, int port, const char *in,
		      const char *outp)
{
	client c(io);
	std::ifstream f(in, std::ios::binary);
	c.data.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
	c.out.open(outp, std::ios::binary);
	if (!f || !c.out) {
		std::cerr << "cannot open files" << std::endl;
		return 1;
	}
	tcp::endpoint ep(asio::ip::make_address(host), port);
	c.s.async_connect(ep, [&](error_code ec) {
		if (ec)
			return fail(io, "connect", ec);
		c.s.set_option(tcp::no_delay(true));
		std::cerr << "connected " << c.s.local_endpoint() << " -> " << c.s.remote_endpoint()
			  << std::endl;
		c.write();
		c.read();
	});
	io.run();
	c.out.close();
	if (!c.out)
		status = 1;
	return status;
}

// ---- UDP ----

struct userver {
	asio::io_context &io;
	udp::socket s;
	udp::endpoint from;
	asio::steady_timer idle;
	char buf[65536];
	userver(asio::io_context &io, int port)
	    : io(io), s(io, udp::endpoint(udp::v4(), port)), idle(io)
	{
	}
	void arm()
	{
		idle.expires_after(std::chrono::seconds(10));
		idle.async_wait([this](error_code ec) {
			if (!ec) {
				std::cerr << "udp server: idle" << std::endl;
				io.stop();
			}
		});
	}
	void recv()
	{
		s.async_receive_from(asio::buffer(buf), from, [this](error_code ec, size_t n) {
			if (ec)
				return fail(io, "receive_from", ec);
			arm();
			if (n == 4 && !std::memcmp(buf, "quit", 4)) {
				status = 0;
				io.stop();
				return;
			}
			s.async_send_to(asio::buffer(buf, n), from, [this](error_code ec, size_t) {
				if (ec)
					return fail(io, "send_to", ec);
				recv();
			});
		});
	}
};

struct uclient {
	asio::io_context &io;
	udp::socket s;
	udp::endpoint to, from;
	asio::steady_timer timer;
	int i = 0, n, tries = 0;
	size_t len = 0;
	char msg[1500], buf[65536];
	uclient(asio::io_context &io, udp::endpoint to, int n)
	    : io(io), s(io, udp::v4()), to(to), timer(io), n(n)
	{
	}
	void send()
	{
		len = 8 + (size_t)(i * 97) % 1393;
		for (size_t k = 0; k < len; k++)
			msg[k] = (char)(i * 31 + k * 7);
		std::memcpy(msg, &i, sizeof i);
		error_code ec;
		s.send_to(asio::buffer(msg, len), to, 0, ec);
		if (ec)
			return fail(io, "send_to", ec);
		timer.expires_after(std::chrono::seconds(1));
		timer.async_wait([this](error_code ec) {
			if (ec)
				return; // cancelled: the echo came
			if (++tries >= 3) {
				std::cerr << "udp client: no echo for datagram " << i << std::endl;
				io.stop();
				return;
			}
			send();
		});
	}
	void recv()
	{
		s.async_receive_from(asio::buffer(buf), from, [this](error_code ec, size_t got) {
			if (ec)
				return fail(io, "receive_from", ec);
			if (from != to) {
				std::cerr << "udp client: datagram from " << from << std::endl;
				io.stop();
				return;
			}
			int seq;
			std::memcpy(&seq, buf, sizeof seq);
			if (got >= sizeof seq && seq < i)
				return recv(); // late echo of a retried datagram
			if (got != len || std::memcmp(buf, msg, len)) {
				std::cerr << "udp client: datagram " << i << ": bad echo (" << got
					  << " bytes, want " << len << ")" << std::endl;
				io.stop();
				return;
			}
			timer.cancel();
			if (++i == n) {
				s.send_to(asio::buffer("quit", 4), to);
				std::printf("udp ok %d\n", n);
				status = 0;
				io.stop();
				return;
			}
			tries = 0;
			send();
			recv();
		});
	}
};

int main(int argc, char **argv)
{
	if (argc < 3) {
		std::cerr << "usage: see the comment at the top of ev_asio.cc" << std::endl;
		return 2;
	}
	asio::io_context io;
	asio::steady_timer limit(io, std::chrono::seconds(30));
	limit.async_wait([&](error_code ec) {
		if (!ec) {
			std::cerr << "ev_asio: overall timeout" << std::endl;
			status = 2;
			io.stop();
		}
	});
	std::cerr << "boost " << BOOST_VERSION / 100000 << "." << BOOST_VERSION / 100 % 1000
		  << std::endl;
	try {
		std::string mode = argv[1];
		if (mode == "tcp-server")
			return tcp_server(io, std::atoi(argv[2]));
		if (mode == "tcp-client" && argc == 6)
			return tcp_client(io, argv[2], std::atoi(argv[3]), argv[4], argv[5]);
		if (mode == "udp-server") {
			userver u(io, std::atoi(argv[2]));
			u.arm();
			u.recv();
			std::printf("ready\n");
			std::fflush(stdout);
			io.run();
			return status;
		}
		if (mode == "udp-client" && argc == 5) {
			uclient u(io, udp::endpoint(asio::ip::make_address(argv[2]), std::atoi(argv[3])),
				  std::atoi(argv[4]));
			u.send();
			u.recv();
			io.run();
			return status;
		}
	} catch (const std::exception &e) {
		std::cerr << "ev_asio: " << e.what() << std::endl;
		return 1;
	}
	std::cerr << "usage: see the comment at the top of ev_asio.cc" << std::endl;
	return 2;
}
