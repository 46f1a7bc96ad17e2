"""Every path of the gateway's protocol, through the sans-I/O :class:`SessionCore`: no socket,
no Redis, time passed in."""

from __future__ import annotations

import orjson
import pytest

from common.records import Mark
from ws_gateway import protocol
from ws_gateway.session_core import (
    REPLAY,
    SENT_MEMORY,
    Action,
    ApplyMark,
    Close,
    Deliver,
    FlushAck,
    Limits,
    Send,
    SessionCore,
    StartWriter,
    State,
    Verify,
)

pytestmark = pytest.mark.unit

LIMITS = Limits(auth_timeout_seconds=10.0, max_frame_bytes=1024, max_bad_frames=3,
                max_ack_ids=5, send_queue_size=4)
AUTH = '{"type":"AUTH","token":"t"}'


def frames(actions: list[Action]) -> list[dict[str, object]]:
    return [orjson.loads(a.text) for a in actions if isinstance(a, Send)]


def closes(actions: list[Action]) -> list[Close]:
    return [a for a in actions if isinstance(a, Close)]


def opened(limits: Limits = LIMITS, pending: int = 0) -> SessionCore:
    core = SessionCore(limits, now=100.0)
    assert core.receive(AUTH) == [Verify({"type": "AUTH", "token": "t"})]
    core.authenticated()
    assert frames(core.open("bob", "default", pending)) == [
        {"type": "AUTH_OK", "userId": "bob", "tenantId": "default", "pending": pending}]
    return core


def drain(core: SessionCore, replays: list[list[tuple[str, str]]] | None = None) -> list[str]:
    """Runs the writer: the ids sent, in order; each REPLAY takes the next batch."""
    batches = list(replays or [])
    sent: list[str] = []
    while (step := core.next_step()) is not None:
        if isinstance(step, Deliver):
            sent.append(step.notification_id)
        elif isinstance(step, Send):
            sent.append(str(orjson.loads(step.text)["type"]))
        else:
            sent += [d.notification_id for d in core.replayed(batches.pop(0))]
    return sent


def note(n: str) -> str:
    return orjson.dumps({"id": n}).decode()


# --- AUTH ----------------------------------------------------------------------------------
def test_auth_ok_then_replay_starts() -> None:
    core = opened(pending=2)
    assert core.state is State.OPEN
    assert core.start() == [StartWriter()]
    assert core.next_step() is REPLAY
    assert core.start() == []  # once


def test_auth_frame_asks_for_verification_once() -> None:
    core = SessionCore(LIMITS, now=0.0)
    [verify] = core.receive('{"type":"AUTH","userId":"u1"}')
    assert isinstance(verify, Verify)
    assert verify.fields == {"type": "AUTH", "userId": "u1"}
    assert core.state is State.VERIFYING


@pytest.mark.parametrize(("code", "message"), [
    ("AUTH_INVALID", "token signature is invalid"),
    ("AUTH_EXPIRED", "token expired"),
    ("AUTH_REQUIRED", "AUTH needs a token"),  # AUTH without a token
])
def test_bad_or_missing_token_is_an_error_and_4003(code: str, message: str) -> None:
    core = SessionCore(LIMITS, now=0.0)
    core.receive('{"type":"AUTH"}')
    actions = core.auth_failed(code, message)
    assert frames(actions) == [{"type": "ERROR", "code": code, "message": message}]
    assert closes(actions) == [Close(protocol.CLOSE_AUTH_FAILED, message, code)]
    assert core.state is State.CLOSED
    assert core.receive(AUTH) == []


def test_a_long_auth_error_is_cut_to_fit_the_close_reason() -> None:
    core = SessionCore(LIMITS, now=0.0)
    core.receive(AUTH)
    [close] = closes(core.auth_failed("AUTH_INVALID", "x" * 500))
    assert close.reason == "x" * 120


def test_no_auth_before_the_deadline_is_auth_timeout_4002() -> None:
    core = SessionCore(LIMITS, now=100.0)
    assert core.auth_deadline == 110.0
    assert core.tick(109.9) == []
    actions = core.tick(110.0)
    assert frames(actions) == [{"type": "ERROR", "code": "AUTH_TIMEOUT",
                                "message": "no AUTH frame in time"}]
    assert closes(actions) == [Close(protocol.CLOSE_AUTH_TIMEOUT, "no AUTH frame in time",
                                     "AUTH_TIMEOUT")]
    assert core.tick(200.0) == []


def test_the_deadline_does_not_apply_once_auth_came() -> None:
    core = SessionCore(LIMITS, now=0.0)
    core.receive(AUTH)
    assert core.tick(1000.0) == []
    core.authenticated()
    assert core.tick(1000.0) == []


@pytest.mark.parametrize("first", [
    '{"type":"ACK","notificationId":"n1"}',
    '{"type":"HELLO"}',
    "not json",
    "[1]",
    b"binary",
])
def test_a_first_frame_that_is_not_auth_is_auth_required_4001(first: str | bytes) -> None:
    core = SessionCore(LIMITS, now=0.0)
    actions = core.receive(first)
    [error] = frames(actions)
    assert error["code"] == "AUTH_REQUIRED"
    assert str(error["message"]).startswith("send AUTH first")
    [close] = closes(actions)
    assert (close.code, close.auth_failure) == (protocol.CLOSE_AUTH_REQUIRED, "AUTH_REQUIRED")
    assert isinstance(actions[0], Send)  # the ERROR goes before the close
    assert core.state is State.CLOSED


def test_answers_for_the_wrong_state_change_nothing() -> None:
    core = SessionCore(LIMITS, now=0.0)
    assert core.auth_failed("AUTH_INVALID", "x") == []
    assert core.open("bob", "default", 0) == []
    assert core.start() == []
    core.authenticated()
    assert core.state is State.AWAIT_AUTH


# --- frames after AUTH ----------------------------------------------------------------------
@pytest.mark.parametrize(("data", "code"), [
    ("not json", "BAD_FRAME"),
    ('{"a":1,"a":2}', "BAD_FRAME"),
    ("[1]", "BAD_FRAME"),
    (b"\x00", "BAD_FRAME"),
    ('{"type":"HELLO"}', "UNKNOWN_TYPE"),
    ('{"type":"ACK"}', "BAD_ACK"),
    ('{"type":"ACK","notificationIds":["a b"]}', "BAD_ACK"),
    ('{"type":"ACK","notificationIds":["1","2","3","4","5","6"]}', "BAD_ACK"),
])
def test_a_bad_frame_is_an_error_and_the_connection_goes_on(data: str | bytes,
                                                              code: str) -> None:
    core = opened()
    actions = core.receive(data)
    [error] = frames(actions)
    assert error["code"] == code
    assert closes(actions) == []
    assert core.state is State.OPEN


def test_more_than_max_bad_frames_closes_with_1008() -> None:
    core = opened()
    for _ in range(LIMITS.max_bad_frames):
        assert closes(core.receive("{")) == []
    actions = core.receive('{"type":"NOPE"}')
    assert frames(actions)[0]["code"] == "UNKNOWN_TYPE"
    assert closes(actions) == [Close(protocol.CLOSE_POLICY, "too many bad frames")]
    assert core.receive('{"type":"ACK","notificationId":"n1"}') == []


def test_good_frames_do_not_reset_the_bad_count() -> None:
    core = opened()
    for _ in range(LIMITS.max_bad_frames):
        core.receive("{")
        core.receive('{"type":"ACK","notificationId":"n1"}')
    assert closes(core.receive("{"))


def test_auth_again_is_already_authenticated() -> None:
    core = opened()
    assert frames(core.receive(AUTH)) == [{
        "type": "ERROR", "code": "ALREADY_AUTHENTICATED",
        "message": "this connection is authenticated already"}]
    assert core.state is State.OPEN


def test_a_frame_over_max_frame_bytes_closes_with_1009() -> None:
    core = opened()
    ok = '{"type":"ACK","notificationId":"' + "a" * 900 + '"}'
    assert not closes(core.receive(ok))
    [close] = core.receive('{"type":"ACK","notificationId":"' + "é" * 600 + '"}')
    assert isinstance(close, Close)
    assert close.code == protocol.CLOSE_TOO_BIG
    assert core.state is State.CLOSED


# --- ACKs -----------------------------------------------------------------------------------
def test_a_valid_ack_is_flushed_and_answered_ack_ok() -> None:
    core = opened()
    assert core.receive('{"type":"ACK","notificationId":"n1"}') == [FlushAck(("n1",))]
    assert frames(core.ack_done(["n1"], [])) == [
        {"type": "ACK_OK", "notificationIds": ["n1"], "unknown": []}]


def test_duplicate_ids_in_one_ack_are_flushed_once_in_order() -> None:
    core = opened()
    assert core.receive('{"type":"ACK","notificationIds":["b","a","b"]}') == [
        FlushAck(("b", "a"))]


def test_an_ack_of_ids_not_pending_says_unknown() -> None:
    core = opened()
    core.receive('{"type":"ACK","notificationIds":["n1","n2"]}')
    assert frames(core.ack_done(["n1"], ["n2"])) == [
        {"type": "ACK_OK", "notificationIds": ["n1"], "unknown": ["n2"]}]


def test_an_ack_not_recorded_is_try_again_with_its_ids() -> None:
    core = opened()
    assert frames(core.ack_failed(("n1", "n2"))) == [{
        "type": "ERROR", "code": "TRY_AGAIN", "message": "the ACK was not recorded; send it again",
        "notificationIds": ["n1", "n2"]}]
    assert core.state is State.OPEN


def test_no_answers_after_the_close() -> None:
    core = opened()
    core.closed()
    assert core.ack_done(["n1"], []) == []
    assert core.ack_failed(("n1",)) == []
    assert core.receive('{"type":"ACK","notificationId":"n1"}') == []


# --- replay, live, dedup --------------------------------------------------------------------
def test_replay_first_then_live_in_order() -> None:
    core = opened(pending=2)
    assert core.live("l1", note("l1")) == []  # before start: waits, no writer yet
    assert core.start() == [StartWriter()]
    assert core.live("l2", note("l2")) == []  # a writer runs already
    assert drain(core, [[("r1", note("r1")), ("r2", note("r2"))]]) == ["r1", "r2", "l1", "l2"]


def test_ids_sent_during_the_replay_are_not_sent_again_live() -> None:
    core = opened()
    core.start()
    assert core.next_step() is REPLAY
    core.live("n2", note("n2"))  # published while the replay was being read
    replayed = core.replayed([("n1", note("n1")), ("n2", note("n2"))])
    assert [(d.notification_id, d.path) for d in replayed] == [("n1", "replay"),
                                                                ("n2", "replay")]
    assert core.next_step() is None  # n2 was sent by the replay


def test_a_live_notification_sent_is_skipped_by_a_later_replay() -> None:
    core = opened()
    core.start()
    assert drain(core, [[]]) == []
    assert core.live("n1", note("n1"), 1.5) == [StartWriter()]
    step = core.next_step()
    assert step == Deliver("n1", note("n1"), "live", 1.5)
    assert isinstance(step, Deliver)
    assert step.text == '{"type":"NOTIFICATION","notification":{"id":"n1"}}'
    assert core.next_step() is None
    assert core.resync() == [StartWriter()]
    assert drain(core, [[("n1", note("n1")), ("n3", note("n3"))]]) == ["n3"]


def test_the_same_live_id_twice_is_sent_once() -> None:
    core = opened()
    core.start()
    core.live("n1", note("n1"))
    core.live("n1", note("n1"))
    assert drain(core, [[]]) == ["n1"]


def test_the_sent_memory_forgets_the_oldest_past_its_size() -> None:
    core = opened(Limits(send_queue_size=SENT_MEMORY + 10))
    core.start()
    batch = [(f"n{i}", note(f"n{i}")) for i in range(SENT_MEMORY + 1)]
    assert len(drain(core, [batch])) == SENT_MEMORY + 1
    core.resync()
    # n1 is still remembered; n0 was forgotten, so it goes again.
    assert drain(core, [[("n1", note("n1")), ("n0", note("n0"))]]) == ["n0"]


def test_an_idle_session_holds_no_backlog_and_no_sent_memory() -> None:
    core = opened()
    core.start()
    assert drain(core, [[]]) == []
    assert core._backlog is None
    assert core._sent is None


# --- a slow reader --------------------------------------------------------------------------
def test_a_full_backlog_closes_with_1013_once() -> None:
    core = opened()  # send_queue_size=4
    for n in range(LIMITS.send_queue_size):
        core.live(f"n{n}", note(f"n{n}"))
    actions = core.live("over", note("over"))
    assert actions == [Close(protocol.CLOSE_OVERLOADED, "too slow; reconnect for pending")]
    assert core.overloaded
    assert core.live("over2", note("over2")) == []


def test_a_resync_on_a_full_backlog_is_dropped() -> None:
    core = opened()
    for n in range(LIMITS.send_queue_size):
        core.live(f"n{n}", note(f"n{n}"))
    assert core.resync() == []
    core.start()
    assert drain(core, [[]]) == [f"n{n}" for n in range(LIMITS.send_queue_size)]


# --- the end --------------------------------------------------------------------------------
def test_a_failed_writer_closes_with_1011_once() -> None:
    core = opened()
    core.start()
    assert core.failed() == [Close(1011, "internal error; reconnect")]
    assert core.failed() == []
    assert core.live("n1", note("n1")) == []


def test_after_the_close_nothing_is_sent() -> None:
    core = opened()
    core.start()
    core.live("n1", note("n1"))
    core.closed()
    assert core.next_step() is None
    assert core.live("n2", note("n2")) == []
    assert core.resync() == []
    assert core.replayed([("n3", note("n3"))]) == []


# --- digests: a newer version of a notification sent before ---------------------------------
def versioned(n: str, version: int) -> str:
    return orjson.dumps({"id": n, "message": f'say "version":{version + 7}',
                         "version": version}).decode()


def steps(core: SessionCore, replays: list[list[tuple[str, str]]] | None = None
          ) -> list[tuple[str, str, int]]:
    """Runs the writer: (id, frame type, version) of each frame sent, in order."""
    batches = list(replays or [])
    sent: list[Deliver] = []
    while (step := core.next_step()) is not None:
        if isinstance(step, Deliver):
            sent.append(step)
        else:
            sent += core.replayed(batches.pop(0))
    out = []
    for d in sent:
        frame = orjson.loads(d.text)
        out.append((d.notification_id, frame["type"], frame["notification"].get("version", 1)))
    return out


def test_a_higher_version_goes_as_an_update_and_an_older_one_never_after_it() -> None:
    core = opened()
    core.start()
    assert steps(core, [[("d", versioned("d", 1))]]) == [("d", "NOTIFICATION", 1)]
    core.live("d", versioned("d", 3), None, 3)
    core.live("d", versioned("d", 2), None, 2)  # late: older than what was sent
    core.live("d", versioned("d", 3), None, 3)  # the same again
    core.live("d", versioned("d", 4), None, 4)
    assert steps(core) == [("d", "NOTIFICATION_UPDATE", 3), ("d", "NOTIFICATION_UPDATE", 4)]


def test_a_reconnecting_client_gets_the_latest_body_as_a_notification() -> None:
    core = opened()
    core.start()
    # a new connection: the replay has version 5 pending; it is new on this connection
    assert steps(core, [[("d", versioned("d", 5))]]) == [("d", "NOTIFICATION", 5)]
    core.live("d", versioned("d", 5), None, 5)  # published during the replay
    assert steps(core) == []


def test_a_resync_replay_sends_an_update_missed_while_pubsub_was_down() -> None:
    core = opened()
    core.start()
    assert steps(core, [[("d", versioned("d", 1)), ("n", note("n"))]]) == [
        ("d", "NOTIFICATION", 1), ("n", "NOTIFICATION", 1)]
    core.resync()
    assert steps(core, [[("d", versioned("d", 2)), ("n", note("n"))]]) == [
        ("d", "NOTIFICATION_UPDATE", 2)]


def test_version_of_reads_the_key_never_text_in_a_string() -> None:
    assert protocol.version_of(versioned("d", 4)) == 4
    assert protocol.version_of(note("n")) == 1
    assert protocol.version_of('{"message":"\\"version\\":9"}') == 1


# --- inbox states (issue 20) ---------------------------------------------------------------
STATE = ('{"type":"INBOX_STATE","seq":2,"mark":"seen","notificationIds":null,"all":true,'
         '"at":"2026-01-02T03:04:05.000Z","unseen":0,"unread":1}')


def test_a_mark_asks_for_the_mark_and_is_answered_mark_ok() -> None:
    core = opened()
    [asked] = core.receive('{"type":"MARK","mark":"read","notificationIds":["a","b","a"]}')
    assert asked == ApplyMark(Mark.READ, ("a", "b"))
    assert core.receive('{"type":"MARK_ALL","mark":"seen"}') == [ApplyMark(Mark.SEEN, None)]
    text = protocol.mark_ok(Mark.READ, ["a"], ["b"], 1, 7)
    assert core.mark_done(text) == [Send(text)]


def test_a_mark_not_recorded_is_try_again_with_its_mark_and_ids() -> None:
    core = opened()
    assert frames(core.mark_failed(ApplyMark(Mark.ARCHIVED, ("a",)))) == [
        {"type": "ERROR", "code": "TRY_AGAIN", "message": "the mark was not recorded; send it "
         "again", "mark": "archived", "notificationIds": ["a"]}]
    [error] = frames(core.mark_failed(ApplyMark(Mark.SEEN, None)))
    assert (error["mark"], "notificationIds" in error) == ("seen", False)
    core.closed()
    assert core.mark_failed(ApplyMark(Mark.SEEN, None)) == []
    assert core.mark_done("x") == []


@pytest.mark.parametrize("data", [
    '{"type":"MARK","mark":"read"}',
    '{"type":"MARK","mark":"read","notificationIds":[]}',
    '{"type":"MARK","mark":"loved","notificationIds":["a"]}',
    '{"type":"MARK","mark":1,"notificationIds":["a"]}',
    '{"type":"MARK","notificationIds":["a"]}',
    '{"type":"MARK","mark":"read","notificationIds":["a b"]}',
    '{"type":"MARK","mark":"read","notificationIds":["1","2","3","4","5","6"]}',
    '{"type":"MARK_ALL"}',
    '{"type":"MARK_ALL","mark":"read","notificationIds":["a"]}',
])
def test_a_bad_mark_is_bad_mark_and_the_connection_goes_on(data: str) -> None:
    core = opened()
    [error] = frames(core.receive(data))
    assert error["code"] == "BAD_MARK"
    assert core.state is State.OPEN


def test_a_mark_before_auth_is_auth_required() -> None:
    core = SessionCore(LIMITS, now=100.0)
    actions = core.receive('{"type":"MARK_ALL","mark":"seen"}')
    assert frames(actions)[0]["code"] == "AUTH_REQUIRED"
    assert closes(actions)[0].code == protocol.CLOSE_AUTH_REQUIRED


def test_inbox_states_go_in_turn_with_live_notifications() -> None:
    core = opened()
    core.start()
    assert core.live("n1", '{"id":"n1"}') == []  # the writer runs already (replay)
    core.inbox(STATE)
    core.live("n2", '{"id":"n2"}')
    assert drain(core, [[]]) == ["n1", "INBOX_STATE", "n2"]


def test_an_inbox_state_before_start_waits_for_it() -> None:
    core = opened()
    assert core.inbox(STATE) == []
    assert core.start() == [StartWriter()]
    assert drain(core, [[("n0", '{"id":"n0"}')]]) == ["n0", "INBOX_STATE"]


def test_inbox_states_count_against_the_backlog() -> None:
    core = opened()
    for _ in range(LIMITS.send_queue_size):
        assert closes(core.inbox(STATE)) == []
    [close] = closes(core.inbox(STATE))
    assert close.code == protocol.CLOSE_OVERLOADED
    assert core.inbox(STATE) == []
