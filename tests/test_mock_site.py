"""The mock site keeps up with a crawler at full concurrency (it stands in for the Hub in benchmarks)."""

import socket

from demosite.server import MockSite


def test_32_connections_opened_at_once_are_all_taken_and_answered():
    site = MockSite(generated_models=32)  # listening, not yet accepting: every connection queues
    clients, started = [], False
    try:
        for _ in range(32):
            client = socket.socket()
            client.settimeout(2.0)  # a connection past the listen backlog is dropped, never completed
            client.connect(("127.0.0.1", site.port))
            clients.append(client)
        site.start()
        started = True
        for number, client in enumerate(clients):
            client.sendall(f"GET /bench/model-{number:05d}/resolve/main/README.md HTTP/1.1\r\n"
                           f"Host: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        answers = [b"".join(iter(lambda client=client: client.recv(65536), b"")) for client in clients]
    finally:
        for client in clients:
            client.close()
        if started:
            site.stop()
        else:  # stop() waits for a serving loop that never ran
            for server in (site._server, site._github_server):
                server.server_close()
    assert [answer.split(b"\r\n", 1)[0] for answer in answers] == [b"HTTP/1.1 200 OK"] * 32
    assert all(f"# Generated model {number}\n".encode() in answer for number, answer in enumerate(answers))


def test_the_mock_sends_each_answer_without_waiting_for_the_client_to_acknowledge_its_headers():
    """Headers and body leave in two writes: with Nagle's algorithm on, the body waited for the
    client's delayed ACK of the headers (40 ms on Linux) on every kept-alive connection."""
    with MockSite() as site:
        handler = site._server.RequestHandlerClass
    assert handler.disable_nagle_algorithm is True
