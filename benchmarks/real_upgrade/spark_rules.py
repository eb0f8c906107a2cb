"""The Spark 1.6 -> 3.5.0 rewrite table, as data.

The loghub Spark 2k sample is one YARN executor's log from June 2017, written by a Spark 1.6
release (Akka remoting at start-up, ``spark.CacheManager``, the 1.6.0 MemoryStore that printed the
memory *used* as ``free``). Each rule names one loghub template of the sample and how
**Apache Spark 3.5.0** prints the same event: the message format (our own ``{}`` notation, one
``{}`` per value, in order), level, logger as the release's default log4j2 layout prints it
(``%c{1}``, the simple class name) and the file and line of the statement in the 3.5.0 tree.
Only the wording of messages was taken from the sources, never code.

Where the sources were read (see SPARK.md, "The release"):

* NEW_COMMIT: the ``v3.5.0`` tag of apache/spark. The code index holds apache/spark's
  ``pom.xml`` at that commit (version 3.5.0, index id 18814515534).
* SOURCE_TREE: the 3.5.0 source tree read statement by statement, the first commit of
  ``lukoou3/spark-3.5.0-source`` (an import of the 3.5.0 sources: its ``pom.xml`` has the same
  142,415 characters as apache/spark's at NEW_COMMIT, and that repository's later commits touch
  neither ``core/`` nor ``common/``). Paths and line numbers below are of that tree.
* Cross-checks in apache/spark itself (index ids): the log4j2 template (1133268292, commit
  14b307e5, the same ``%c{1}`` pattern) and CoarseGrainedExecutorBackend.scala (2094886, commit
  14b307e5, a 4.0 version with the same texts in structured-logging form).
* Three statements are Hadoop's (the FileOutputCommitter that Spark 3.5.0 uses, Hadoop 3.3.4 by
  its pom): read in apache/hadoop's FileOutputCommitter.java at commit 00daa949 (index id
  58365950586), a trunk version, not pinned to 3.3.4; their wording is marked as such.

A rule's ``args`` name what fills the ``{}`` of a line's format, in order:

* a named group of ``old_regex`` (the value the 2017 line printed),
* ``=text``: a constant,
* a context value that make_spark.py derives (``make_spark.CONTEXT_VALUES``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

OLD_RELEASE = "1.6"
NEW_RELEASE = "3.5.0"
NEW_COMMIT = "ce5ddad990373636e94071e7cef2f31021add07b"
"""apache/spark tag v3.5.0 (index: pom.xml at this commit reads <version>3.5.0</version>, id 18814515534)."""
NEW_POM_INDEX_ID = "18814515534"
SOURCE_TREE = "lukoou3/spark-3.5.0-source@0ed80669e08a73cf0c86c3f1c942f9bd536605d5"
"""The 3.5.0 tree the statements were read in (see the module docstring)."""
HADOOP_SOURCE = "apache/hadoop@00daa949b74cfdc7736904d097ae42b977a2f35c (index id 58365950586)"
REPOSITORY = "https://github.com/apache/spark"
INDEX_CROSS_CHECKS = {
    "conf/log4j2.properties.template": "14b307e5434f7d3c3bd15605d763b2198b0fcae6 (index id 1133268292)",
    "core/src/main/scala/org/apache/spark/executor/CoarseGrainedExecutorBackend.scala":
        "14b307e5434f7d3c3bd15605d763b2198b0fcae6 (index id 2094886)",
    "pom.xml": f"{NEW_COMMIT} (index id {NEW_POM_INDEX_ID})",
}

OLD_LAYOUT = "%d{yy/MM/dd HH:mm:ss} %p %c{2}: %m%n"
"""What the 2017 file shows: the deployment's own log4j 1.2 pattern (two logger name segments)."""
NEW_LAYOUT = "%d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex"
"""conf/log4j2.properties.template and core/src/main/resources/org/apache/spark/log4j2-defaults.properties
of 3.5.0 (line 32 and 26). Spark 3.3 moved from log4j 1.2 to log4j2, so the deployment's old
log4j.properties no longer applies and the shipped pattern takes over, as with ZooKeeper's move to
logback. Stack traces (``%ex``) are not written, as loghub strips them."""

CORE = "core/src/main/scala/org/apache/spark/"
HADOOP_FOC = ("hadoop-mapreduce-project/hadoop-mapreduce-client/hadoop-mapreduce-client-core/src/main/java/"
              "org/apache/hadoop/mapreduce/lib/output/FileOutputCommitter.java")

ASSUMED_OS = ("Linux", "4.4.0-79-generic", "amd64")
"""``OS info`` of the upgraded executor: not in the 2017 log, an assumption (a 2017 Ubuntu 16.04 kernel)."""
ASSUMED_JAVA = "1.8.0_131"
"""``Java version`` of the upgraded executor: an assumption (Spark 3.5 runs on Java 8, 11 and 17)."""


class Status(Enum):
    SAME = "same"
    """Same message text; the logger (now ``%c{1}``) and the values may differ."""
    REWORDED = "reworded"
    """The format string or the way a value is printed changed."""
    SPLIT = "split"
    """The event is now printed as several lines (the first is the old line's counterpart)."""
    DEMOTED = "demoted"
    """Now logged below INFO: it vanishes at the default level (no rule of this table)."""
    REMOVED = "removed"
    """No statement of 3.5.0 logs this event."""


@dataclass(frozen=True)
class Line:
    """One 3.5.0 statement: what it prints, at which level, through which logger, from where."""

    level: str
    logger: str
    """``%c{1}`` of the logger, as the 3.5.0 layout prints it."""
    new_format: str
    args: tuple[str, ...]
    source: str
    """``path:line`` of the statement (CORE paths in SOURCE_TREE, HADOOP_FOC in HADOOP_SOURCE)."""


@dataclass(frozen=True)
class Rule:
    event: str
    """loghub EventId of the 2k sample."""
    old_template: str
    old_regex: str
    old_logger: str
    """The logger as the 2017 sample prints it (``%c{2}``)."""
    status: Status
    lines: tuple[Line, ...] = ()
    evidence: str = ""
    """For a removed event: where 3.5.0 handles it without logging."""
    note: str = ""

    @property
    def new_formats(self) -> list[str]:
        return [line.new_format for line in self.lines]


@dataclass(frozen=True)
class Fault:
    """A failure: the 3.5.0 WARN/ERROR statements the executor logs, in order."""

    name: str
    description: str
    statements: tuple[Line, ...]


def _l(level: str, logger: str, fmt: str, args: tuple[str, ...], source: str) -> Line:
    return Line(level, logger, fmt, args, source if source.startswith("hadoop-") else CORE + source)


BACKEND = "YarnCoarseGrainedExecutorBackend"
"""On YARN, 3.5.0 starts executors as org.apache.spark.executor.YarnCoarseGrainedExecutorBackend
(resource-managers/yarn/.../deploy/yarn/ExecutorRunnable.scala:189). The backend instance's
statements print that class; CoarseGrainedExecutorBackend.run (an object) keeps its own name."""

_SIZE = r"[\d.]+ [KMGTPE]?B"
_TASK = r"task \S+ in stage \S+ \(TID \d+\)"

RULES: tuple[Rule, ...] = (
    Rule("E1", "attempt_<*>: Committed", r"^(?P<attempt>attempt_\d+_\d+_[mr]_\d+_\d+): Committed$",
         "mapred.SparkHadoopMapRedUtil", Status.REWORDED,
         (_l("INFO", "SparkHadoopMapRedUtil", "{}: Committed. Elapsed time: {} ms.", ("new_attempt", "commit_ms"),
             "mapred/SparkHadoopMapRedUtil.scala:52"),),
         note="the commit's duration is appended; the attempt id follows 3.5.0 (SparkHadoopWriter.scala:63-86: "
              "job id = the RDD id, job tracker id yyyyMMddHHmmss, SparkHadoopWriterUtils.scala:74; attempt number "
              "(stageAttempt << 16) | attempt, here 0). Not in the 2017 log, so kept: the job number (1.6 used the "
              "stage id), the minute of the tracker id (seconds 00); the duration is drawn from the seed"),
    Rule("E2", "Block <*> stored as bytes in memory (estimated size <*>, free <*>)",
         rf"^Block (?P<block>\S+) stored as bytes in memory \(estimated size (?P<size>{_SIZE}), free (?P<free>{_SIZE})\)$",
         "storage.MemoryStore", Status.REWORDED,
         (_l("INFO", "MemoryStore", "Block {} stored as bytes in memory (estimated size {}, free {})",
             ("block", "size_iec", "free_iec"), "storage/memory/MemoryStore.scala:159"),),
         note="Utils.bytesToString prints binary units KiB/MiB/GiB (util/Utils.scala:1213-1223); 'free' is now "
              "the store's capacity minus the memory its blocks use (1.6.0 printed the memory used)"),
    Rule("E3", "Block <*> stored as values in memory (estimated size <*>, free <*>)",
         rf"^Block (?P<block>\S+) stored as values in memory \(estimated size (?P<size>{_SIZE}), free (?P<free>{_SIZE})\)$",
         "storage.MemoryStore", Status.REWORDED,
         (_l("INFO", "MemoryStore", "Block {} stored as values in memory (estimated size {}, free {})",
             ("block", "size_iec", "free_iec"), "storage/memory/MemoryStore.scala:269"),),
         note="as E2"),
    Rule("E4", "Changing modify acls to: <*>", r"^Changing modify acls to: (?P<users>.*)$",
         "spark.SecurityManager", Status.SPLIT,
         (_l("INFO", "SecurityManager", "Changing modify acls to: {}", ("users",), "SecurityManager.scala:158"),
          _l("INFO", "SecurityManager", "Changing view acls groups to: {}", ("=",), "SecurityManager.scala:130"),
          _l("INFO", "SecurityManager", "Changing modify acls groups to: {}", ("=",), "SecurityManager.scala:167")),
         note="the constructor also sets the (empty) group ACLs, after the user ACLs (SecurityManager.scala:81-85)"),
    Rule("E5", "Changing view acls to: <*>", r"^Changing view acls to: (?P<users>.*)$",
         "spark.SecurityManager", Status.SAME,
         (_l("INFO", "SecurityManager", "Changing view acls to: {}", ("users",), "SecurityManager.scala:117"),)),
    Rule("E6", "Connecting to driver: spark://<*>", r"^Connecting to driver: (?P<url>\S+)$",
         "executor.CoarseGrainedExecutorBackend", Status.SAME,
         (_l("INFO", BACKEND, "Connecting to driver: {}", ("url",), "executor/CoarseGrainedExecutorBackend.scala:88"),),
         note="logged by the backend instance: YarnCoarseGrainedExecutorBackend on YARN"),
    Rule("E7", "Created local directory at <*>", r"^Created local directory at (?P<dir>\S+)$",
         "storage.DiskBlockManager", Status.SAME,
         (_l("INFO", "DiskBlockManager", "Created local directory at {}", ("dir",),
             "storage/DiskBlockManager.scala:253"),)),
    Rule("E8", "File Output Committer Algorithm version is <*>", r"^File Output Committer Algorithm version is (?P<version>\d+)$",
         "output.FileOutputCommitter", Status.SPLIT,
         (_l("INFO", "HadoopMapRedCommitProtocol", "Using output committer class {}",
             ("=org.apache.hadoop.mapred.FileOutputCommitter",), "internal/io/HadoopMapRedCommitProtocol.scala:35"),
          _l("INFO", "FileOutputCommitter", "File Output Committer Algorithm version is {}", ("version",),
             HADOOP_FOC + ":(constructor, first LOG.info)"),
          _l("INFO", "FileOutputCommitter",
             "FileOutputCommitter skip cleanup _temporary folders under output directory:{}, ignore cleanup failures: {}",
             ("=false", "=false"), HADOOP_FOC + ":(constructor, second LOG.info)")),
         note="per task, 3.5.0's commit protocol names the committer it sets up; the Hadoop committer's "
              "constructor (Hadoop side, read in a trunk version, not pinned to 3.3.4) adds its cleanup settings "
              "(defaults: false, false)"),
    Rule("E9", "Finished task <*> in stage <*> (TID <*>). <*> bytes result sent to driver",
         rf"^Finished (?P<task>{_TASK})\. (?P<bytes>\d+) bytes result sent to driver$",
         "executor.Executor", Status.SAME,
         (_l("INFO", "Executor", "Finished {}. {} bytes result sent to driver", ("task", "bytes"),
             "executor/Executor.scala:729"),),
         note="the task name is TaskSetManager's 'task <index>.<attempt> in stage <stage>.<attempt> (TID <tid>)' "
              "(scheduler/TaskSetManager.scala:576)"),
    Rule("E10", "Found block rdd_<*> locally", r"^Found block (?P<block>\S+) locally$",
         "storage.BlockManager", Status.SAME,
         (_l("INFO", "BlockManager", "Found block {} locally", ("block",), "storage/BlockManager.scala:1278"),)),
    Rule("E11", "Got assigned task <*>", r"^Got assigned task (?P<tid>\d+)$",
         "executor.CoarseGrainedExecutorBackend", Status.SAME,
         (_l("INFO", BACKEND, "Got assigned task {}", ("tid",), "executor/CoarseGrainedExecutorBackend.scala:186"),)),
    Rule("E12", "Input split: hdfs://<*>", r"^Input split: (?P<split>\S+)$", "rdd.HadoopRDD", Status.SAME,
         (_l("INFO", "HadoopRDD", "Input split: {}", ("split",), "rdd/HadoopRDD.scala:248"),)),
    *(
        Rule(event, f"{old} is deprecated. Instead, use {new}",
             rf"^{old.replace('.', chr(92) + '.')} is deprecated\. Instead, use {new.replace('.', chr(92) + '.')}$",
             "Configuration.deprecation", Status.REMOVED,
             evidence=CORE + "rdd/HadoopRDD.scala:417-427",
             note="Hadoop logs a deprecated key when it is set; 3.5.0's HadoopRDD.addLocalConfiguration sets the "
                  "mapreduce.* names, so nothing is logged")
        for event, old, new in (
            ("E13", "mapred.job.id", "mapreduce.job.id"),
            ("E14", "mapred.task.id", "mapreduce.task.attempt.id"),
            ("E15", "mapred.task.is.map", "mapreduce.task.ismap"),
            ("E16", "mapred.task.partition", "mapreduce.task.partition"),
            ("E17", "mapred.tip.id", "mapreduce.task.id"),
        )
    ),
    Rule("E18", "MemoryStore started with capacity <*> GB", rf"^MemoryStore started with capacity (?P<capacity>{_SIZE})$",
         "storage.MemoryStore", Status.REWORDED,
         (_l("INFO", "MemoryStore", "MemoryStore started with capacity {}", ("capacity_iec",),
             "storage/memory/MemoryStore.scala:118"),),
         note="binary unit names (GiB); the capacity itself is kept (same memory settings assumed)"),
    Rule("E19", "Partition rdd_<*> not found, computing it", r"^Partition (?P<block>\S+) not found, computing it$",
         "spark.CacheManager", Status.REMOVED, evidence=CORE + "storage/BlockManager.scala:1359 (getOrElseUpdate)",
         note="CacheManager is gone (2.0); BlockManager.getOrElseUpdate computes a missing block without an INFO line"),
    Rule("E20", "Reading broadcast variable <*> took <*> ms", r"^Reading broadcast variable (?P<id>\d+) took (?P<ms>\d+) ms$",
         "broadcast.TorrentBroadcast", Status.SAME,
         (_l("INFO", "TorrentBroadcast", "Reading broadcast variable {} took {} ms", ("id", "ms"),
             "broadcast/TorrentBroadcast.scala:282"),),
         note="the time is Utils.getUsedTimeNs, '<ms> ms' (util/Utils.scala:1117)"),
    Rule("E21", "Registered BlockManager", r"^Registered BlockManager$", "storage.BlockManagerMaster", Status.SPLIT,
         (_l("INFO", "BlockManagerMaster", "Registered BlockManager {}", ("block_manager_id",),
             "storage/BlockManagerMaster.scala:94"),
          _l("INFO", "BlockManager", "Initialized BlockManager: {}", ("block_manager_id",),
             "storage/BlockManager.scala:565")),
         note="the BlockManagerId(executor, host, port, topology) is printed (storage/BlockManagerId.scala:91)"),
    Rule("E22", "Registered signal handlers for [TERM, HUP, INT]", r"^Registered signal handlers for \[(?P<signals>[A-Z, ]+)\]$",
         "executor.CoarseGrainedExecutorBackend", Status.SPLIT,
         (_l("INFO", "CoarseGrainedExecutorBackend", "Started daemon with process name: {}", ("process_name",),
             "util/Utils.scala:2637"),
          *(_l("INFO", "SignalUtils", "Registering signal handler for {}", (f"={sig}",), "util/SignalUtils.scala:82")
            for sig in ("TERM", "HUP", "INT"))),
         note="Utils.initDaemon logs the process name, then SignalUtils logs each of TERM, HUP, INT "
              "(util/SignalUtils.scala:41); the pid is not in the 2017 log and is drawn from the seed"),
    Rule("E23", "Remoting started; listening on addresses :[akka.tcp://<*>]",
         r"^Remoting started; listening on addresses :\[(?P<addr>\S+)\]$", "Remoting", Status.REMOVED,
         evidence=CORE + "SparkEnv.scala:275-276", note="Akka was removed in Spark 2.0; the netty RpcEnv logs no such line"),
    Rule("E24", "Running task <*> in stage <*> (TID <*>)", rf"^Running (?P<task>{_TASK})$", "executor.Executor",
         Status.SAME, (_l("INFO", "Executor", "Running {}", ("task",), "executor/Executor.scala:559"),)),
    Rule("E25", "Saved output of task 'attempt_<*>' to hdfs://<*>",
         r"^Saved output of task '(?P<attempt>attempt_\S+)' to (?P<path>\S+)$", "output.FileOutputCommitter",
         Status.SAME,
         (_l("INFO", "FileOutputCommitter", "Saved output of task '{}' to {}", ("new_attempt", "new_path"),
             HADOOP_FOC + ":(commitTask, algorithm 1)"),),
         note="Hadoop's statement (trunk version read); the attempt and task ids follow 3.5.0's format"),
    Rule("E26", "SecurityManager: authentication disabled; ui acls disabled; users with view permissions: Set(yarn, curi); "
                "users with modify permissions: Set(yarn, curi)",
         r"^SecurityManager: authentication (?P<auth>\w+); ui acls (?P<acls>\w+); users with view permissions: "
         r"Set\((?P<view>.*?)\); users with modify permissions: Set\((?P<modify>.*?)\)$",
         "spark.SecurityManager", Status.REWORDED,
         (_l("INFO", "SecurityManager",
             "SecurityManager: authentication {}; ui acls {}; users with view permissions: {}; groups with view "
             "permissions: {}; users with modify permissions: {}; groups with modify permissions: {}",
             ("auth", "acls", "view_users", "=EMPTY", "modify_users", "=EMPTY"), "SecurityManager.scala:88"),),
         note="group ACLs are listed; a set is printed as 'a, b' or EMPTY instead of Set(...)"),
    Rule("E27", "Server created on <*>", r"^Server created on (?P<port>\d+)$", "netty.NettyBlockTransferService",
         Status.REWORDED,
         (_l("INFO", "NettyBlockTransferService", "Server created on {}:{}", ("host", "port"),
             "network/netty/NettyBlockTransferService.scala:84"),),
         note="the host name is printed (it equals the bind address on a YARN executor)"),
    Rule("E28", "Slf4jLogger started", r"^Slf4jLogger started$", "slf4j.Slf4jLogger", Status.REMOVED,
         evidence=CORE + "SparkEnv.scala:275-276", note="Akka's logger; Akka was removed in Spark 2.0"),
    Rule("E29", "Started reading broadcast variable <*>", r"^Started reading broadcast variable (?P<id>\d+)$",
         "broadcast.TorrentBroadcast", Status.REWORDED,
         (_l("INFO", "TorrentBroadcast", "Started reading broadcast variable {} with {} pieces (estimated total size {})",
             ("id", "pieces", "pieces_size"), "broadcast/TorrentBroadcast.scala:278"),),
         note="pieces = the broadcast's piece blocks stored next; estimated size = pieces x spark.broadcast.blockSize "
              "(default 4m, internal/config/package.scala:1949-1956)"),
    Rule("E30", "Starting executor ID <*> on host <*>", r"^Starting executor ID (?P<exec_id>\S+) on host (?P<host>\S+)$",
         "executor.Executor", Status.SPLIT,
         (_l("INFO", "Executor", "Starting executor ID {} on host {}", ("exec_id", "host"), "executor/Executor.scala:83"),
          _l("INFO", "Executor", "OS info {}, {}, {}", tuple(f"={v}" for v in ASSUMED_OS), "executor/Executor.scala:84"),
          _l("INFO", "Executor", "Java version {}", (f"={ASSUMED_JAVA}",), "executor/Executor.scala:86")),
         note="3.5.0 also names the OS and the JVM (values assumed, see ASSUMED_OS/ASSUMED_JAVA)"),
    Rule("E31", "Starting remoting", r"^Starting remoting$", "Remoting", Status.REMOVED,
         evidence=CORE + "SparkEnv.scala:275-276", note="Akka was removed in Spark 2.0"),
    Rule("E32", "Successfully registered with driver", r"^Successfully registered with driver$",
         "executor.CoarseGrainedExecutorBackend", Status.SAME,
         (_l("INFO", BACKEND, "Successfully registered with driver", (), "executor/CoarseGrainedExecutorBackend.scala:171"),)),
    Rule("E33", "Successfully started service 'org.apache.spark.network.netty.NettyBlockTransferService' on port <*>.",
         r"^Successfully started service 'org\.apache\.spark\.network\.netty\.NettyBlockTransferService' on port "
         r"(?P<port>\d+)\.$", "util.Utils", Status.SAME,
         (_l("INFO", "Utils", "Successfully started service 'org.apache.spark.network.netty.NettyBlockTransferService' "
             "on port {}.", ("port",), "util/Utils.scala:2257"),),
         note="service name = the class name (network/netty/NettyBlockTransferService.scala:97)"),
    Rule("E34", "Successfully started service 'sparkExecutorActorSystem' on port <*>.",
         r"^Successfully started service 'sparkExecutorActorSystem' on port (?P<port>\d+)\.$", "util.Utils",
         Status.REMOVED, evidence=CORE + "SparkEnv.scala:275-276",
         note="no actor system; an executor's RpcEnv is created in client mode and listens on no port"),
    Rule("E35", "Times: total = <*>, boot = <*>, init = <*>, finish = <*>",
         r"^Times: total = (?P<total>-?\d+), boot = (?P<boot>-?\d+), init = (?P<init>-?\d+), finish = (?P<finish>-?\d+)$",
         "python.PythonRunner", Status.SAME,
         (_l("INFO", "PythonRunner", "Times: total = {}, boot = {}, init = {}, finish = {}",
             ("total", "boot", "init", "finish"), "api/python/PythonRunner.scala:558"),)),
    Rule("E36", "Trying to register BlockManager", r"^Trying to register BlockManager$", "storage.BlockManagerMaster",
         Status.REWORDED,
         (_l("INFO", "BlockManagerMaster", "Registering BlockManager {}", ("block_manager_id",),
             "storage/BlockManagerMaster.scala:79"),)),
)

FAULTS: tuple[Fault, ...] = (
    Fault("task_exception", "a task's Python code raises: the executor reports the task failed", (
        _l("ERROR", "Executor", "Exception in {}", ("task",), "executor/Executor.scala:792"),
    )),
    Fault("python_worker_crashed", "the Python worker process dies while a task feeds it", (
        _l("ERROR", "PythonRunner", "Python worker exited unexpectedly (crashed)", (), "api/python/PythonRunner.scala:600"),
        _l("ERROR", "PythonRunner", "This may have been caused by a prior exception:", (),
           "api/python/PythonRunner.scala:601"),
        _l("ERROR", "Executor", "Exception in {}", ("task",), "executor/Executor.scala:792"),
    )),
    Fault("executor_oom", "a task runs out of heap: the executor's uncaught-exception handler takes over", (
        _l("ERROR", "Executor", "Exception in {}", ("task",), "executor/Executor.scala:792"),
        _l("ERROR", "SparkUncaughtExceptionHandler", "Uncaught exception in thread {}", ("task_thread",),
           "util/SparkUncaughtExceptionHandler.scala:43"),
    )),
    Fault("cache_unroll_failed", "a partition cannot be cached: no memory left to unroll it", (
        _l("WARN", "MemoryStore", "Failed to reserve initial memory threshold of {} for computing block {} in memory.",
           ("=1024.0 KiB", "rdd_block"), "storage/memory/MemoryStore.scala:216"),
        _l("WARN", "MemoryStore", "Not enough space to cache {} in memory! (computed {} so far)",
           ("rdd_block", "computed_size"), "storage/memory/MemoryStore.scala:649"),
    )),
    Fault("broadcast_fetch_failed", "a broadcast piece cannot be fetched from the driver's block manager", (
        _l("WARN", "BlockManager", "Failed to fetch remote block {} from {} (failed attempt {})",
           ("broadcast_piece", "driver_block_manager", "=1"), "storage/BlockManager.scala:1193"),
        _l("WARN", "BlockManager", "Failed to fetch remote block {} from {} (failed attempt {})",
           ("broadcast_piece", "driver_block_manager", "=2"), "storage/BlockManager.scala:1193"),
    )),
    Fault("put_block_failed", "computing a partition to cache fails in Python: the block is not stored, the task fails", (
        _l("WARN", "BlockManager", "Putting block {} failed due to exception {}.",
           ("rdd_block", "=org.apache.spark.api.python.PythonException: Traceback (most recent call last):"),
           "storage/BlockManager.scala:1546"),
        _l("ERROR", "Executor", "Exception in {}", ("task",), "executor/Executor.scala:792"),
    )),
    Fault("driver_disassociated", "the executor loses its driver and exits", (
        _l("ERROR", BACKEND, "Executor self-exiting due to : Driver {} disassociated! Shutting down.",
           ("driver_address",), "executor/CoarseGrainedExecutorBackend.scala:293"),
    )),
    Fault("heartbeat_failed", "the executor cannot reach the driver with its heartbeat", (
        _l("WARN", "Executor", "Issue communicating with driver in heartbeater", (), "executor/Executor.scala:1228"),
    )),
    Fault("killed_task_stuck", "a killed task keeps running", (
        _l("WARN", "Executor", "Killed task {} is still running after {} ms", ("tid", "stuck_ms"),
           "executor/Executor.scala:979"),
    )),
)
