"""The Zookeeper 3.4.5 -> 3.8.4 rewrite table, as data.

Every entry names the statement that logs an event of the loghub Zookeeper 2k sample in
ZooKeeper 3.4.5 (the release that wrote it: ``zookeeper.version=3.4.5--1`` is in the sample, and
``FastLeaderElection@774`` / ``QuorumCnxManager$SendWorker@688`` match 3.4.5 line for line) and the
statement of ZooKeeper 3.8.4 that logs the same event: its format string exactly as in the source
(SLF4J ``{}`` placeholders), level, class (``%C{1}``) and the line of the ``LOG`` call (``%L``).
Only message format strings were taken from the sources, never code.

Sources: github.com/apache/zookeeper, tags ``release-3.4.5`` (commit OLD_COMMIT) and
``release-3.8.4`` (commit NEW_COMMIT), read with ``git show <tag>:<path>``.

A rule's ``args`` name what fills the ``{}`` of ``new_format`` in order:

* a named group of ``old_regex`` (the value the 2015 line printed; hex groups are captured
  without their ``0x`` where 3.8.4 prints ``0x{}`` of ``Long.toHexString``),
* ``=text``: a constant,
* a context value the generator derives from the node and the neighbouring lines (see
  ``make_zookeeper.CONTEXT_VALUES``): ``myid``, ``thread_sid``, ``peer_sid``, ``last_zxid``,
  ``quorum_server``, ``supporters``, ``eos_message``, ``request``, ``env_entry``.

``thread`` is a ``str.format`` pattern over the same names plus ``thread`` (the old thread name),
``worker`` and ``conn`` (pool thread numbers); ``None`` keeps the old thread under THREAD_RENAMES.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

OLD_RELEASE = "3.4.5"
OLD_COMMIT = "f1c2e3ad35128d766e30e05350c95d6362b2d2cc"
NEW_RELEASE = "3.8.4"
NEW_COMMIT = "9316c2a7a97e1666d8f4593f34dd6fc36ecc436c"
REPOSITORY = "https://github.com/apache/zookeeper"

OLD_LAYOUT = "%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n"
"""What the 2015 files show (the deployment's own log4j pattern, without the MDC myid)."""
NEW_LAYOUT = "%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n"
"""conf/logback.xml of 3.8.4 (3.8 moved from log4j 1.2 to logback, so the old log4j.properties no
longer applies and the shipped pattern takes over)."""
MDC_THREADS = ("main",)
"""Threads that print ``[myid:N]``: 3.8.4 puts ``myid`` in the MDC once, in QuorumPeerConfig
(QuorumPeerConfig.java@739, on the main thread), and logback 1.2.13 no longer copies the MDC into
child threads, so every other thread prints ``[myid:]``."""

P = "zookeeper-server/src/main/java/org/apache/zookeeper/server/"
OLD_P = "src/java/main/org/apache/zookeeper/server/"

ENSEMBLE = {1: "10.10.34.11", 2: "10.10.34.12", 3: "10.10.34.13"}
"""Server id -> address, as the sample's 'Cannot open channel to N at election address' lines show."""
QUORUM_PORT, ELECTION_PORT = 2888, 3888

EOS_MESSAGE = (
    "Unable to read additional data from client, it probably closed the socket: "
    "address = {addr}, session = 0x{session}"
)
"""EndOfStreamException text built in NIOServerCnxn.handleFailedRead (3.8.4 NIOServerCnxn.java@170)."""

ENV_REWRITES = (
    (r"^zookeeper\.version=.*", f"zookeeper.version={NEW_RELEASE}-{NEW_COMMIT}, built on 2024-02-12 22:09 UTC"),
    (r"^java\.home=/usr/lib/jvm/java-7-openjdk-amd64/jre$", "java.home=/usr/lib/jvm/java-11-openjdk-amd64"),
    (r"log4j-1\.2\.jar", "logback-classic-1.2.13.jar:/usr/share/java/logback-core-1.2.13.jar"),
)
"""Values of 'Server environment:' lines that an upgrade changes. The version string is
Version.getFullVersion() of 3.8.4 (the build time is the tag's commit time, to the minute); Java 11
and the logback jars are assumptions about the upgraded host (3.8 needs Java 8+, and ships logback)."""

THREAD_RENAMES = (
    (r"^QuorumPeer\[myid=(?P<id>\d+)\]/0:0:0:0:0:0:0:0:(?P<port>\d+)$",
     "QuorumPeer[myid={id}](plain=[0:0:0:0:0:0:0:0]:{port})(secure=disabled)"),
    (r"^NIOServerCxn\.Factory:.*$", "NIOWorkerThread-{worker}"),
    (r"^CommitProcessor:\d+$", "CommitProcWorkThread-{worker}"),
    (r"^(?P<addr>/[\d.]+:\d+)$", "ListenerHandler-{addr}"),
)
"""Thread names that changed: QuorumPeer.updateThreadName (QuorumPeer.java@2517, formatInetAddr
brackets an IPv6 address), the NIO and commit worker pools (WorkerService.java@186 with the
prefixes of NIOServerCnxnFactory.java@723 and CommitProcessor.java@455) and the election
listener's handler threads (QuorumCnxManager.java@1038)."""


class Status(Enum):
    SAME = "same"
    """Same message text; the line, the logger line number or the thread may differ."""
    REWORDED = "reworded"
    """The format string changed."""
    DEMOTED = "demoted"
    """Now logged at DEBUG: it vanishes at the default INFO threshold."""
    REMOVED = "removed"
    """No statement of 3.8.4 logs this event."""


@dataclass(frozen=True)
class Rule:
    event: str
    """loghub EventId of the 2k sample."""
    old_template: str
    old_regex: str
    old_source: str
    """Path and line in 3.4.5."""
    status: Status
    new_format: str | None
    args: tuple[str, ...] = ()
    level: str | None = None
    logger: str | None = None
    """``%C{1}@%L`` of the 3.8.4 statement."""
    source: str | None = None
    """Path of the 3.8.4 statement (line in ``logger``)."""
    thread: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Statement:
    """One real 3.8.4 statement used to inject a failure."""

    level: str
    logger: str
    source: str
    new_format: str
    args: tuple[str, ...]
    thread: str


@dataclass(frozen=True)
class Fault:
    """A failure: the statements its node logs, in order."""

    name: str
    description: str
    statements: tuple[Statement, ...] = field(default_factory=tuple)


_NOTIFICATION_OLD = (
    r"^Notification: (?P<leader>\d+) \(n\.leader\), 0x(?P<zxid>[0-9a-f]+) \(n\.zxid\), "
    r"0x(?P<round>[0-9a-f]+) \(n\.round\), (?P<state>{state}) \(n\.state\), (?P<sid>\d+) \(n\.sid\), "
    r"0x(?P<epoch>[0-9a-f]+) \(n\.peerEPoch\), (?P<mystate>{mystate}) \(my state\)$"
)
_NOTIFICATION_NEW = (
    "Notification: my state:{}; n.sid:{}, n.state:{}, n.leader:{}, n.round:0x{}, "
    "n.peerEpoch:0x{}, n.zxid:0x{}, message format version:0x{}, n.config version:0x{}"
)
_NOTIFICATION_EVENTS = (
    ("E32", "FOLLOWING", "FOLLOWING"),
    ("E33", "FOLLOWING", "LEADING"),
    ("E34", "LEADING", "LOOKING"),
    ("E35", "LOOKING", "FOLLOWING"),
    ("E36", "LOOKING", "LEADING"),
    ("E37", "LOOKING", "LOOKING"),
)

RULES: tuple[Rule, ...] = (
    Rule("E1", "******* GOODBYE /<*>:<*> ********", r"^\*{7} GOODBYE (?P<addr>\S+) \*{8}$",
         OLD_P + "quorum/LearnerHandler.java@575", Status.SAME, "******* GOODBYE {} ********", ("addr",),
         "WARN", "LearnerHandler@735", P + "quorum/LearnerHandler.java"),
    Rule("E2", "Accepted socket connection from /<*>:<*>", r"^Accepted socket connection from (?P<addr>\S+)$",
         OLD_P + "NIOServerCnxnFactory.java@197", Status.DEMOTED, "Accepted socket connection from {}", ("addr",),
         "DEBUG", "NIOServerCnxnFactory@272", P + "NIOServerCnxnFactory.java"),
    Rule("E3", "autopurge.purgeInterval set to <*>", r"^autopurge\.purgeInterval set to (?P<value>\S+)$",
         OLD_P + "DatadirCleanupManager.java@79", Status.SAME, "autopurge.purgeInterval set to {}", ("value",),
         "INFO", "DatadirCleanupManager@79", P + "DatadirCleanupManager.java"),
    Rule("E4", "autopurge.snapRetainCount set to <*>", r"^autopurge\.snapRetainCount set to (?P<value>\S+)$",
         OLD_P + "DatadirCleanupManager.java@78", Status.SAME, "autopurge.snapRetainCount set to {}", ("value",),
         "INFO", "DatadirCleanupManager@78", P + "DatadirCleanupManager.java"),
    Rule("E5", "Cannot open channel to <*> at election address /<*>:<*>",
         r"^Cannot open channel to (?P<sid>\d+) at election address (?P<addr>\S+)$",
         OLD_P + "quorum/QuorumCnxManager.java@368", Status.SAME, "Cannot open channel to {} at election address {}",
         ("sid", "addr"), "WARN", "QuorumCnxManager@401", P + "quorum/QuorumCnxManager.java",
         thread="QuorumConnectionThread-[myid={myid}]-{conn}",
         note="connections are now opened asynchronously by the connection executor (QuorumCnxManager.java@350)"),
    Rule("E6", "caught end of stream exception", r"^caught end of stream exception$",
         OLD_P + "NIOServerCnxn.java@349", Status.REWORDED, "{}", ("eos_message",),
         "INFO", "NIOServerCnxn@340", P + "NIOServerCnxn.java",
         note="the exception's message is logged at INFO without a stack trace; it names the client "
              "address and session that 3.4.5 gave in the following (now DEBUG) 'Closed socket' line"),
    Rule("E7", "Client attempting to establish new session at /<*>:<*>",
         r"^Client attempting to establish new session at (?P<addr>\S+)$",
         OLD_P + "ZooKeeperServer.java@839", Status.DEMOTED,
         "Client attempting to establish new session: session = 0x{}, zxid = 0x{}, timeout = {}, address = {}",
         (), "DEBUG", "ZooKeeperServer@1459", P + "ZooKeeperServer.java"),
    Rule("E8", "Client attempting to renew session <*> at /<*>:<*>",
         r"^Client attempting to renew session (?P<session>0x[0-9a-f]+) at (?P<addr>\S+)$",
         OLD_P + "ZooKeeperServer.java@832", Status.DEMOTED,
         "Client attempting to renew session: session = 0x{}, zxid = 0x{}, timeout = {}, address = {}",
         (), "DEBUG", "ZooKeeperServer@1467", P + "ZooKeeperServer.java"),
    Rule("E9", "Closed socket connection for client /<*>:<*> (no session established for client)",
         r"^Closed socket connection for client (?P<addr>\S+) \(no session established for client\)$",
         OLD_P + "NIOServerCnxn.java@1001", Status.DEMOTED, "Closed socket connection for client %s %s", (),
         "DEBUG", "NIOServerCnxn@637", P + "NIOServerCnxn.java", note="String.format, then LOG.debug"),
    Rule("E10", "Closed socket connection for client /<*>:<*> which had sessionid <*>",
         r"^Closed socket connection for client (?P<addr>\S+) which had sessionid 0x(?P<session>[0-9a-f]+)$",
         OLD_P + "NIOServerCnxn.java@1001", Status.DEMOTED, "Closed socket connection for client %s %s", (),
         "DEBUG", "NIOServerCnxn@637", P + "NIOServerCnxn.java", note="String.format, then LOG.debug"),
    Rule("E11", "Connection broken for id <*>, my id = <*>, error =",
         r"^Connection broken for id (?P<sid>\d+), my id = (?P<my>\d+), error =.*$",
         OLD_P + "quorum/QuorumCnxManager.java@762", Status.REWORDED, "Connection broken for id {}, my id = {}",
         ("sid", "my"), "WARN", "QuorumCnxManager$RecvWorker@1402", P + "quorum/QuorumCnxManager.java",
         note="the exception is passed as a throwable instead of appended after 'error ='"),
    Rule("E12", "Connection request from old client /<*>:<*>; will be dropped if server is in r-o mode",
         r"^Connection request from old client (?P<addr>\S+); will be dropped if server is in r-o mode$",
         OLD_P + "ZooKeeperServer.java@793", Status.SAME,
         "Connection request from old client {}; will be dropped if server is in r-o mode", ("addr",),
         "WARN", "ZooKeeperServer@1422", P + "ZooKeeperServer.java"),
    Rule("E13", "Established session <*> with negotiated timeout <*> for client /<*>:<*>",
         r"^Established session 0x(?P<session>[0-9a-f]+) with negotiated timeout (?P<timeout>\d+) for client (?P<addr>\S+)$",
         OLD_P + "ZooKeeperServer.java@595", Status.DEMOTED,
         "Established session 0x{} with negotiated timeout {} for client {}", (),
         "DEBUG", "ZooKeeperServer@1093", P + "ZooKeeperServer.java"),
    Rule("E14", "Exception causing close of session <*> due to java.io.IOException: ZooKeeperServer not running",
         r"^Exception causing close of session 0x(?P<session>[0-9a-f]+) due to (?P<exception>.+)$",
         OLD_P + "NIOServerCnxn.java@354", Status.REWORDED, "Close of session 0x{}", ("session",),
         "WARN", "NIOServerCnxn@391", P + "NIOServerCnxn.java",
         note="the IOException goes to the stack trace instead of the message"),
    Rule("E15", "Expiring session <*>, timeout of <*>ms exceeded",
         r"^Expiring session 0x(?P<session>[0-9a-f]+), timeout of (?P<timeout>\d+)ms exceeded$",
         OLD_P + "ZooKeeperServer.java@325", Status.SAME, "Expiring session 0x{}, timeout of {}ms exceeded",
         ("session", "timeout"), "INFO", "ZooKeeperServer@643", P + "ZooKeeperServer.java"),
    Rule("E16", "First is <*>", r"^First is 0x(?P<zxid>[0-9a-f]+)$",
         OLD_P + "quorum/Leader.java@576", Status.SAME, "First is 0x{}", ("zxid",),
         "WARN", "Leader@943", P + "quorum/Leader.java"),
    Rule("E17", "Follower sid: <*> : info : org.apache.zookeeper.server.quorum.QuorumPeer$QuorumServer@<*>",
         r"^Follower sid: (?P<sid>\d+) : info : (?P<info>\S+)$",
         OLD_P + "quorum/LearnerHandler.java@263", Status.SAME, "Follower sid: {} : info : {}",
         ("sid", "quorum_server"), "INFO", "LearnerHandler@510", P + "quorum/LearnerHandler.java",
         note="QuorumServer.toString (QuorumPeer.java@428) now prints host:port:port:type, not an object hash"),
    Rule("E18", "FOLLOWING", r"^FOLLOWING$", OLD_P + "quorum/QuorumPeer.java@738", Status.SAME, "FOLLOWING", (),
         "INFO", "QuorumPeer@1537", P + "quorum/QuorumPeer.java"),
    Rule("E19", "FOLLOWING - LEADER ELECTION TOOK - <*>", r"^FOLLOWING - LEADER ELECTION TOOK - (?P<ms>\d+)$",
         OLD_P + "quorum/Follower.java@63", Status.REWORDED, "FOLLOWING - LEADER ELECTION TOOK - {} {}",
         ("ms", "=MS"), "INFO", "Follower@77", P + "quorum/Follower.java",
         note="the unit is QuorumPeer.FLE_TIME_UNIT = \"MS\" (QuorumPeer.java@577)"),
    Rule("E20", "Getting a snapshot from leader", r"^Getting a snapshot from leader$",
         OLD_P + "quorum/Learner.java@325", Status.REWORDED, "Getting a snapshot from leader 0x{}", ("last_zxid",),
         "INFO", "Learner@576", P + "quorum/Learner.java"),
    Rule("E21", "Got user-level KeeperException when processing sessionid:<*> type:create cxid:<*> zxid:<*> "
                "txntype:<*> reqpath:<*> Error Path:<*> Error:KeeperErrorCode = NodeExists for <*>",
         r"^Got user-level KeeperException when processing sessionid:(?P<session>0x[0-9a-f]+) type:(?P<type>\w+) "
         r"cxid:(?P<cxid>0x[0-9a-f]+) zxid:(?P<zxid>0x[0-9a-f]+) txntype:(?P<txntype>-?\d+) reqpath:(?P<reqpath>\S+) "
         r"Error Path:(?P<path>\S+) Error:(?P<error>.+)$",
         OLD_P + "PrepRequestProcessor.java@627", Status.REWORDED,
         "Got user-level KeeperException when processing {} Error Path:{} Error:{}", ("request", "path", "error"),
         "INFO", "PrepRequestProcessor@941", P + "PrepRequestProcessor.java",
         note="Request.toString (Request.java@387) now decodes the request path instead of 'n/a'"),
    Rule("E22", "Have quorum of supporters; starting up and setting last processed zxid: <*>",
         r"^Have quorum of supporters; starting up and setting last processed zxid: 0x(?P<zxid>[0-9a-f]+)$",
         OLD_P + "quorum/Leader.java@598", Status.REWORDED,
         "Have quorum of supporters, sids: [{}]; starting up and setting last processed zxid: 0x{}",
         ("supporters", "zxid"), "INFO", "Leader@1523", P + "quorum/Leader.java",
         note="sids is SyncedLearnerTracker.ackSetsToString, a Set's toString"),
    Rule("E23", "Have smaller server identifier, so dropping the connection: (<*>, <*>)",
         r"^Have smaller server identifier, so dropping the connection: \((?P<sid>\d+), (?P<my>\d+)\)$",
         OLD_P + "quorum/QuorumCnxManager.java@190", Status.REWORDED,
         "Have smaller server identifier, so dropping the connection: (myId:{} --> sid:{})", ("my", "sid"),
         "INFO", "QuorumCnxManager@514", P + "quorum/QuorumCnxManager.java",
         thread="QuorumConnectionThread-[myid={myid}]-{conn}"),
    Rule("E24", "Interrupted while waiting for message on queue", r"^Interrupted while waiting for message on queue$",
         OLD_P + "quorum/QuorumCnxManager.java@679", Status.SAME, "Interrupted while waiting for message on queue", (),
         "WARN", "QuorumCnxManager$SendWorker@1288", P + "quorum/QuorumCnxManager.java"),
    Rule("E25", "Interrupting SendWorker", r"^Interrupting SendWorker$",
         OLD_P + "quorum/QuorumCnxManager.java@765", Status.REWORDED,
         "Interrupting SendWorker thread from RecvWorker. sid: {}. myId: {}", ("thread_sid", "myid"),
         "WARN", "QuorumCnxManager$RecvWorker@1408", P + "quorum/QuorumCnxManager.java"),
    Rule("E26", "LOOKING", r"^LOOKING$", OLD_P + "quorum/QuorumPeer.java@670", Status.SAME, "LOOKING", (),
         "INFO", "QuorumPeer@1455", P + "quorum/QuorumPeer.java"),
    Rule("E27", "maxSessionTimeout set to <*>", r"^maxSessionTimeout set to (?P<value>-?\d+)$",
         OLD_P + "quorum/QuorumPeer.java@944", Status.SAME, "maxSessionTimeout set to {}", ("value",),
         "INFO", "QuorumPeer@1797", P + "quorum/QuorumPeer.java"),
    Rule("E28", "minSessionTimeout set to <*>", r"^minSessionTimeout set to (?P<value>-?\d+)$",
         OLD_P + "quorum/QuorumPeer.java@933", Status.SAME, "minSessionTimeout set to {}", ("value",),
         "INFO", "QuorumPeer@1786", P + "quorum/QuorumPeer.java"),
    Rule("E29", "My election bind port: <*>/<*>:<*>", r"^My election bind port: (?P<addr>\S+)$",
         OLD_P + "quorum/QuorumCnxManager.java@486", Status.REWORDED,
         "{} is accepting connections now, my election bind port: {}", ("myid", "addr"),
         "INFO", "QuorumCnxManager$Listener$ListenerHandler@1071", P + "quorum/QuorumCnxManager.java",
         thread="ListenerHandler-{addr}"),
    Rule("E30", "New election. My id =  <*>, proposed zxid=<*>",
         r"^New election\. My id =  (?P<my>\d+), proposed zxid=0x(?P<zxid>[0-9a-f]+)$",
         OLD_P + "quorum/FastLeaderElection.java@740", Status.REWORDED, "New election. My id = {}, proposed zxid=0x{}",
         ("my", "zxid"), "INFO", "FastLeaderElection@946", P + "quorum/FastLeaderElection.java",
         note="one space after '=' instead of two"),
    Rule("E31", "Notification time out: <*>", r"^Notification time out: (?P<ms>\d+)$",
         OLD_P + "quorum/FastLeaderElection.java@774", Status.REWORDED, "Notification time out: {} ms", ("ms",),
         "INFO", "FastLeaderElection@996", P + "quorum/FastLeaderElection.java"),
    *(
        Rule(event,
             f"Notification: <*> (n.leader), <*> (n.zxid), <*> (n.round), {state} (n.state), <*> (n.sid), "
             f"<*> (n.peerEPoch), {mystate} (my state)",
             _NOTIFICATION_OLD.replace("{state}", state).replace("{mystate}", mystate),
             OLD_P + "quorum/FastLeaderElection.java@542", Status.REWORDED, _NOTIFICATION_NEW,
             ("mystate", "sid", "state", "leader", "round", "epoch", "zxid", "=2", "=0"),
             "INFO", "FastLeaderElection$Messenger$WorkerReceiver@391", P + "quorum/FastLeaderElection.java",
             note="message format version is Notification.CURRENTVERSION = 0x2; a static ensemble's "
                  "config version is 0")
        for event, state, mystate in _NOTIFICATION_EVENTS
    ),
    Rule("E38", "Processed session termination for sessionid: <*>",
         r"^Processed session termination for sessionid: 0x(?P<session>[0-9a-f]+)$",
         OLD_P + "PrepRequestProcessor.java@476", Status.REMOVED, None, (), None, None,
         P + "PrepRequestProcessor.java", note="the closeSession case (PrepRequestProcessor.java@588) logs nothing"),
    Rule("E39", "Reading snapshot <*>", r"^Reading snapshot (?P<path>\S+)$",
         OLD_P + "persistence/FileSnap.java@83", Status.SAME, "Reading snapshot {}", ("path",),
         "INFO", "FileSnap@85", P + "persistence/FileSnap.java"),
    Rule("E40", "Received connection request /<*>:<*>", r"^Received connection request (?P<addr>\S+)$",
         OLD_P + "quorum/QuorumCnxManager.java@493", Status.REWORDED, "Received connection request from {}", ("addr",),
         "INFO", "QuorumCnxManager$Listener$ListenerHandler@1076", P + "quorum/QuorumCnxManager.java"),
    Rule("E41", "Revalidating client: <*>", r"^Revalidating client: 0x(?P<session>[0-9a-f]+)$",
         OLD_P + "quorum/Learner.java@107", Status.SAME, "Revalidating client: 0x{}", ("session",),
         "INFO", "Learner@161", P + "quorum/Learner.java"),
    Rule("E42", "Send worker leaving thread", r"^Send worker leaving thread$",
         OLD_P + "quorum/QuorumCnxManager.java@688", Status.REWORDED, "Send worker leaving thread id {} my id = {}",
         ("thread_sid", "myid"), "WARN", "QuorumCnxManager$SendWorker@1300", P + "quorum/QuorumCnxManager.java"),
    Rule("E43", "Sending DIFF", r"^Sending DIFF$", OLD_P + "quorum/LearnerHandler.java@395", Status.REWORDED,
         "Sending DIFF zxid=0x{}  for peer sid: {}", ("last_zxid", "peer_sid"),
         "INFO", "LearnerHandler@977", P + "quorum/LearnerHandler.java",
         note="the branch where the peer's zxid is in the committed log (two spaces before 'for', as in the source)"),
    Rule("E44", "Server environment:<*>", r"^Server environment:(?P<entry>.*)$",
         "src/java/main/org/apache/zookeeper/Environment.java@100", Status.SAME, "Server environment:{}",
         ("env_entry",), "INFO", "Environment@98", "zookeeper-server/src/main/java/org/apache/zookeeper/Environment.java",
         note="string concatenation msg + entry; values rewritten by ENV_REWRITES"),
    Rule("E45", "shutdown of request processor complete", r"^shutdown of request processor complete$",
         OLD_P + "FinalRequestProcessor.java@415", Status.SAME, "shutdown of request processor complete", (),
         "INFO", "FinalRequestProcessor@693", P + "FinalRequestProcessor.java"),
    Rule("E46", "Snapshotting: <*> to <*>", r"^Snapshotting: 0x(?P<zxid>[0-9a-f]+) to (?P<path>\S+)$",
         OLD_P + "persistence/FileTxnSnapLog.java@240", Status.SAME, "Snapshotting: 0x{} to {}", ("zxid", "path"),
         "INFO", "FileTxnSnapLog@479", P + "persistence/FileTxnSnapLog.java"),
    Rule("E47", "Starting quorum peer", r"^Starting quorum peer$", OLD_P + "quorum/QuorumPeerMain.java@127",
         Status.REWORDED, "Starting quorum peer, myid={}", ("myid",),
         "INFO", "QuorumPeerMain@152", P + "quorum/QuorumPeerMain.java", note="string concatenation in the source"),
    Rule("E48", "tickTime set to <*>", r"^tickTime set to (?P<value>\d+)$", OLD_P + "quorum/QuorumPeer.java@913",
         Status.SAME, "tickTime set to {}", ("value",), "INFO", "QuorumPeer@1742", P + "quorum/QuorumPeer.java"),
    Rule("E49", "Unexpected exception causing shutdown while sock still open",
         r"^Unexpected exception causing shutdown while sock still open$",
         OLD_P + "quorum/LearnerHandler.java@562", Status.REWORDED, "Unexpected exception in LearnerHandler: ", (),
         "ERROR", "LearnerHandler@719", P + "quorum/LearnerHandler.java"),
    Rule("E50", "Unexpected Exception:", r"^Unexpected Exception:\s*$", OLD_P + "NIOServerCnxn.java@180",
         Status.REMOVED, None, (), None, None, P + "NIOServerCnxn.java",
         note="sendBuffer (NIOServerCnxn.java@145) only queues the buffer and no longer catches anything"),
)


def _st(level: str, logger: str, path: str, fmt: str, args: tuple[str, ...], thread: str) -> Statement:
    return Statement(level, logger, P + path, fmt, args, thread)


QUORUM_PEER_THREAD = "QuorumPeer[myid={myid}](plain=[0:0:0:0:0:0:0:0]:2181)(secure=disabled)"

FAULTS: tuple[Fault, ...] = (
    Fault("leader_unreachable", "a follower cannot reach the leader's quorum port and gives up", (
        _st("WARN", "Learner$LeaderConnector@448", "quorum/Learner.java",
            "Unexpected exception, tries={}, remaining init limit={}, connecting to {}",
            ("=3", "remaining_ms", "leader_addr"), "LeaderConnector-{leader_addr}"),
        _st("ERROR", "Learner$LeaderConnector@440", "quorum/Learner.java",
            "Unexpected exception, retries exceeded. tries={}, remaining init limit={}, connecting to {}",
            ("=4", "remaining_ms_later", "leader_addr"), "LeaderConnector-{leader_addr}"),
    )),
    Fault("follower_lost_leader", "a follower loses its leader mid-session", (
        _st("WARN", "Follower@128", "quorum/Follower.java", "Exception when following the leader", (),
            QUORUM_PEER_THREAD),
    )),
    Fault("snapshot_corrupt", "the newest snapshot cannot be read and the database does not load", (
        _st("WARN", "FileSnap@105", "persistence/FileSnap.java", "problem reading snap file {}", ("snap_path",),
            "main"),
        _st("ERROR", "QuorumPeer@1200", "quorum/QuorumPeer.java", "Unable to load database on disk", (), "main"),
    )),
    Fault("txnlog_gap", "the transaction log replays a zxid below the snapshot's", (
        _st("ERROR", "FileTxnSnapLog@345", "persistence/FileTxnSnapLog.java", "{}(highestZxid) > {}(next log) for type {}",
            ("high_zxid_dec", "next_zxid_dec", "txn_type"), "main"),
    )),
    Fault("sync_thread_died", "the request log's sync thread dies", (
        _st("ERROR", "ZooKeeperCriticalThread@49", "ZooKeeperCriticalThread.java",
            "Severe unrecoverable error, from thread : {}", ("sync_thread",), "{sync_thread}"),
    )),
    Fault("slow_fsync", "the transaction log's disk stalls", (
        _st("WARN", "FileTxnLog@394", "persistence/FileTxnLog.java",
            "fsync-ing the write ahead log in {} took {}ms which will adversely effect operation latency."
            "File size is {} bytes. See the ZooKeeper troubleshooting guide",
            ("sync_thread", "fsync_ms", "=67108880"), "{sync_thread}"),
    )),
    Fault("newleader_epoch_mismatch", "a learner acknowledges NEWLEADER from another epoch", (
        _st("ERROR", "Leader@1580", "quorum/Leader.java",
            "NEWLEADER ACK from sid: {} is from a different epoch - current 0x{} received 0x{}",
            ("peer_sid", "epoch_zxid", "stale_epoch_zxid"), "LearnerHandler-{learner_addr}"),
    )),
    Fault("proposal_gap", "a follower receives proposals out of order", (
        _st("WARN", "Learner@637", "quorum/Learner.java", "Got zxid 0x{} expected 0x{}",
            ("got_zxid", "expected_zxid"), QUORUM_PEER_THREAD),
    )),
    Fault("election_connect_failed", "an election connection fails during the handshake", (
        _st("ERROR", "QuorumCnxManager@409", "quorum/QuorumCnxManager.java",
            "Exception while connecting, id: {}, addr: {}, closing learner connection",
            ("peer_sid", "peer_election_addr"), "QuorumConnectionThread-[myid={myid}]-{conn}"),
    )),
    Fault("truncate_failed", "a follower cannot truncate its log to the leader's", (
        _st("WARN", "Learner@599", "quorum/Learner.java", "Truncating log to get in sync with the leader 0x{}",
            ("trunc_zxid",), QUORUM_PEER_THREAD),
        _st("ERROR", "Learner@603", "quorum/Learner.java", "Not able to truncate the log 0x{}",
            ("trunc_zxid",), QUORUM_PEER_THREAD),
    )),
)
