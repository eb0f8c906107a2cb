"""How Apache Hadoop 2.7.7 logs each of the 30 HDFS events that Hadoop 0.18 logged in 2008.

A plain data table, read by ``make_hdfs.py``. One :class:`Rule` per canonical loghub template
(E1..E30): the old template and a pattern that parses the old message, and what the release prints
for the same event (level, logger, message, source line). Only the releases' message format
strings are recorded here (the facts being studied), in a neutral ``{name}`` notation; no Hadoop
code is copied.

``NewStatement.message`` is a ``str.format`` string over the fields ``make_hdfs.py`` derives for
a line (see ``FIELDS``); ``template`` is the same message with every variable part as ``<*>``,
the form in which ``mapping.json`` records the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

RELEASE = {
    "name": "Apache Hadoop 2.7.7",
    "repository": "ArthurSXL8/hadoop-2.7.7-clean",
    # The repository's first commit ("init"), the unmodified 2.7.7 source tree (pom version
    # 2.7.7); its later commits only add study comments. Cross-checked against the code index's
    # chenquan-code/hadoop-2.7.7 @ 01c7a67899b96a1637976321e677116a4aa09efc.
    "commit": "d9436630c5014393d2c06dc9a522ea46ffd98658",
    "source_root": "hadoop-hdfs-project/hadoop-hdfs/src/main/java/org/apache/hadoop/hdfs/",
    # hadoop-common-project/hadoop-common/src/main/conf/log4j.properties, appender RFA.
    "layout": "%d{ISO8601} %p %c: %m%n",
}

# Logger names (log4j %c) in the release.
DATANODE = "org.apache.hadoop.hdfs.server.datanode.DataNode"
CLIENT_TRACE = DATANODE + ".clienttrace"
FSDATASET = "org.apache.hadoop.hdfs.server.datanode.fsdataset.impl.FsDatasetImpl"
ASYNC_DISK = "org.apache.hadoop.hdfs.server.datanode.fsdataset.impl.FsDatasetAsyncDiskService"
VOLUME_SCANNER = "org.apache.hadoop.hdfs.server.datanode.VolumeScanner"
STATE_CHANGE = "org.apache.hadoop.hdfs.StateChange"
BLOCK_STATE_CHANGE = "BlockStateChange"
BLOCK_MANAGER = "org.apache.hadoop.hdfs.server.blockmanagement.BlockManager"

# The synthetic cluster's identity, which 2.x prints and 0.18 did not: one namespace, one block
# pool, a storage per datanode. Fixed so that the benchmark is reproducible; the 2008 namenode's
# address is not in the logs, so it is a placeholder. The pool's creation time is the cluster's
# start (job ids in the 2008 log are job_200811092030_*).
CLUSTER = {
    "namenode_ip": "10.250.0.1",
    "block_pool_random": 1336578361,
    "block_pool_millis": 1226262600000,
    "namespace_id": 1911380736,
    "datanode_layout_version": -56,  # DataNodeLayoutVersion BLOCKID_BASED_LAYOUT, the newest in 2.7.7
    "info_port": 50075,
    "ipc_port": 50020,
    # Sequential block ids (HDFS-4645, 2.1+) start above 2**30; generation stamps at 1001.
    "first_block_id": 1073741825,
    "first_generation_stamp": 1001,
    # The 2% sample keeps about one block in 50: new ids keep that spacing.
    "block_id_spacing": 50,
}

# Fields the generator derives for a line, by name (documentation for ``message`` strings).
FIELDS = {
    "blk": "Block.toString: blk_<id>_<genstamp>",
    "eblk": "ExtendedBlock.toString: <block pool id>:blk_<id>_<genstamp>",
    "bpid": "block pool id BP-<random>-<namenode ip>-<creation millis>",
    "dn": "datanode transfer address ip:port, as in the old line",
    "dnreg": "DatanodeRegistration.toString of the old line's datanode",
    "responder": "PacketResponder.toString: PacketResponder: <eblk>, type=<pipeline position>",
    "src, dest, mirror, tgt, exc, path, size": "copied from the old line",
    "ip_port": "the old line's remote ip with the remote port 2.x prints",
    "dest, srv_id": "the receiving datanode of a client-trace record and its datanode uuid",
    "client, duration": "the writing DFSClient's name and the write's duration in nanoseconds",
    "targets": "old target list, each followed by a space",
    "block_list": "old block list as a Java list [blk_.., blk_..]",
    "block_file": "the replica's file in the 2.x block-pool layout",
    "allocated": "the new block under construction with its expected replicas",
    "stored": "the stored block: under construction with its replicas, or complete",
    "numbytes": "the block's size, from the block's other lines",
    "datanodes": "every datanode of a merged group, each followed by a space",
}


class Fate(str, Enum):
    """What became of an old statement in the release."""

    REWORDED = "reworded"
    """One line, new wording and/or id formats, level or logger."""
    SPLIT = "split"
    """The event now prints two lines."""
    MERGED = "merged"
    """The old per-datanode lines of one event are one line listing every datanode."""
    DROPPED_DEBUG = "dropped_debug"
    """The statement moved to DEBUG or TRACE: invisible at the default INFO level."""
    DROPPED_REMOVED = "dropped_removed"
    """The release has no statement for this event."""


@dataclass(frozen=True)
class NewStatement:
    level: str
    logger: str
    message: str
    template: str
    source: str
    """Path under ``RELEASE["source_root"]`` and line, at ``RELEASE["commit"]``."""
    source_format: str
    """The statement's message as the source builds it, in ``{name}`` notation."""


@dataclass(frozen=True)
class Rule:
    event: str
    old_template: str
    old_pattern: str
    """Regular expression over the whole old message; named groups feed the fields."""
    old_level: str
    old_logger: str
    fate: Fate
    new: tuple[NewStatement, ...]
    note: str
    hidden: NewStatement | None = None
    """For DROPPED_DEBUG: the statement that still exists below INFO."""


BLK = r"(?P<b>blk_-?\d+)"
ADDR = r"\d+\.\d+\.\d+\.\d+:\d+"
IP = r"\d+\.\d+\.\d+\.\d+"

RULES: tuple[Rule, ...] = (
    Rule(
        "E1", "<*>Adding an already existing block<*>", rf"Adding an already existing block {BLK}.*",
        "WARN", "dfs.DataBlockScanner", Fate.DROPPED_REMOVED, (),
        "DataBlockScanner was replaced by BlockScanner/VolumeScanner (HDFS-7430, 2.7.0), which keeps "
        "no per-block list and has no such statement.",
    ),
    Rule(
        "E2", "<*>Verification succeeded for<*>", rf"Verification succeeded for {BLK}",
        "INFO", "dfs.DataBlockScanner", Fate.DROPPED_DEBUG, (),
        "A successful scan is logged at TRACE by the 2.7 VolumeScanner.",
        hidden=NewStatement("TRACE", VOLUME_SCANNER, "Successfully scanned {blk} on {volume}",
                            "Successfully scanned <*> on <*>", "server/datanode/VolumeScanner.java:272",
                            "Successfully scanned {block} on {volume.getBasePath()}"),
    ),
    Rule(
        "E3", "<*>Served block<*>to<*>", rf"(?P<dn>{ADDR}) Served block {BLK} to /(?P<ip>{IP})",
        "INFO", "dfs.DataNode$DataXceiver", Fate.DROPPED_DEBUG, (),
        "A read is traced (a client-trace HDFS_READ record, or 'Served block' when there is no "
        "client name) only at DEBUG: BlockSender logs the trace with ClientTraceLog.debug.",
        hidden=NewStatement("DEBUG", CLIENT_TRACE,
                            "src: /{dn}, dest: /{ip_port}, bytes: {bytes}, op: HDFS_READ, cliID: {client}, offset: "
                            "{offset}, srvID: {srv_id}, blockid: {eblk}, duration: {duration}",
                            "src: <*>, dest: <*>, bytes: <*>, op: HDFS_READ, cliID: <*>, offset: <*>, srvID: <*>, "
                            "blockid: <*>, duration: <*>", "server/datanode/DataXceiver.java:529 (logged at "
                            "server/datanode/BlockSender.java:830)",
                            "DN_CLIENTTRACE_FORMAT with op HDFS_READ (a client's read; 'Served block' only "
                            "without a client name)"),
    ),
    Rule(
        "E4", "<*>Got exception while serving<*>to<*>",
        rf"(?P<dn>{ADDR}):Got exception while serving {BLK} to /(?P<ip>{IP}):?",
        "WARN", "dfs.DataNode$DataXceiver", Fate.REWORDED,
        (NewStatement("WARN", DATANODE, "{dnreg}:Got exception while serving {eblk} to /{ip_port}",
                      "<*>:Got exception while serving <*> to <*>", "server/datanode/DataXceiver.java:590",
                      "{dnR}:Got exception while serving {block} to {remoteAddress}"),),
        "The datanode is now its full registration, the remote address carries its port; the "
        "exception goes to the following (stack-trace) lines.",
    ),
    Rule(
        "E5", "<*>Receiving block<*>src:<*>dest:<*>",
        rf"Receiving block {BLK} src: (?P<src>/{ADDR}) dest: (?P<dest>/{ADDR})",
        "INFO", "dfs.DataNode$DataXceiver", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "Receiving {eblk} src: {src} dest: {dest}",
                      "Receiving <*> src: <*> dest: <*>", "server/datanode/DataXceiver.java:660",
                      "Receiving {block} src: {remoteAddress} dest: {localAddress}"),),
        "'block' dropped from the wording; the block is an ExtendedBlock (pool id, generation stamp).",
    ),
    Rule(
        "E6", "<*>Received block<*>src:<*>dest:<*>of size<*>",
        rf"Received block {BLK} src: (?P<src>/{ADDR}) dest: (?P<dest>/{ADDR}) of size (?P<size>\d+)",
        "INFO", "dfs.DataNode$DataXceiver", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "Received {eblk} src: {src} dest: {dest} of size {size}",
                      "Received <*> src: <*> dest: <*> of size <*>", "server/datanode/DataXceiver.java:833",
                      "Received {block} src: {remoteAddress} dest: {localAddress} of size {block.getNumBytes()}"),),
        "'block' dropped from the wording; ExtendedBlock ids.",
    ),
    Rule(
        "E7", "<*>writeBlock<*>received exception<*>", rf"writeBlock {BLK} received exception (?P<exc>.*)",
        "INFO", "dfs.DataNode$DataXceiver", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "opWriteBlock {eblk} received exception {exc}",
                      "opWriteBlock <*> received exception <*>", "server/datanode/DataXceiver.java:841",
                      "opWriteBlock {block} received exception {ioe}"),),
        "Renamed after the data-transfer op; ExtendedBlock ids.",
    ),
    Rule(
        "E8", "<*>PacketResponder<*>for block<*>Interrupted<*>",
        rf"PacketResponder (?P<n>\d+) for block {BLK} Interrupted\.?",
        "INFO", "dfs.DataNode$PacketResponder", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "{responder}: Thread is interrupted.",
                      "PacketResponder: <*>, type=<*>: Thread is interrupted.",
                      "server/datanode/BlockReceiver.java:1377", "{myString}: Thread is interrupted."),),
        "The responder names itself by block and pipeline position (type) instead of a target count.",
    ),
    Rule(
        "E9", "<*>Received block<*>of size<*>from<*>",
        rf"Received block {BLK} of size (?P<size>\d+) from /(?P<ip>{IP})",
        "INFO", "dfs.DataNode$PacketResponder", Fate.REWORDED,
        (NewStatement("INFO", CLIENT_TRACE,
                      "src: /{ip_port}, dest: /{dest}, bytes: {size}, op: HDFS_WRITE, cliID: {client}, offset: 0, "
                      "srvID: {srv_id}, blockid: {eblk}, duration: {duration}",
                      "src: <*>, dest: <*>, bytes: <*>, op: HDFS_WRITE, cliID: <*>, offset: <*>, srvID: <*>, "
                      "blockid: <*>, duration: <*>", "server/datanode/BlockReceiver.java:1440 (format "
                      "server/datanode/DataNode.java:254)",
                      "src: {inAddr}, dest: {myAddr}, bytes: {block.getNumBytes()}, op: HDFS_WRITE, cliID: "
                      "{clientname}, offset: {offset}, srvID: {dnR.getDatanodeUuid()}, blockid: {block}, "
                      "duration: {endTime - startTime}"),),
        "A client write's last packet is logged as a client-trace record by the clienttrace logger, "
        "which the release's default log4j.properties leaves at INFO; the release prints its "
        "counterpart of 0.18's line, 'Received {eblk} size {size} from {inAddr}' "
        "(server/datanode/BlockReceiver.java:1444), only with that logger off. The client is the "
        "task attempt that wrote the file (DFSClient_<attempt>_<random>_<thread>), the duration is "
        "in nanoseconds.",
    ),
    Rule(
        "E10", "<*>PacketResponder<*>Exception<*>", rf"PacketResponder {BLK} (?P<n>\d+) Exception (?P<exc>.*)",
        "INFO", "dfs.DataNode$PacketResponder", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "{responder}", "PacketResponder: <*>, type=<*>",
                      "server/datanode/BlockReceiver.java:1361", "{myString} (exception as throwable)"),),
        "The message is only the responder's name; the exception moved to the following "
        "stack-trace lines, which (as in loghub) are not kept.",
    ),
    Rule(
        "E11", "<*>PacketResponder <*> for block <*> terminating<*>",
        rf"PacketResponder (?P<n>\d+) for block {BLK} terminating",
        "INFO", "dfs.DataNode$PacketResponder", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "{responder} terminating", "PacketResponder: <*>, type=<*> terminating",
                      "server/datanode/BlockReceiver.java:1413", "{myString} terminating"),),
        "Responder named by block and pipeline position: count 0 is LAST_IN_PIPELINE (with its "
        "empty downstream list), more is HAS_DOWNSTREAM_IN_PIPELINE.",
    ),
    Rule(
        "E12", "<*>:Exception writing block<*>to mirror<*>",
        rf"(?P<dn>{ADDR}):Exception writing block {BLK} to mirror (?P<mirror>\S+).*",
        "INFO", "dfs.DataNode$BlockReceiver", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "{dnreg}:Exception writing {eblk} to mirror {mirror}",
                      "<*>:Exception writing <*> to mirror <*>", "server/datanode/BlockReceiver.java:435",
                      "{datanode.getDNRegistrationForBP(bpid)}:Exception writing {block} to mirror {mirrorAddr}"),),
        "Full datanode registration; 'block' dropped from the wording; exception as throwable.",
    ),
    Rule(
        "E13", "<*>Receiving empty packet for block<*>", rf"Receiving empty packet for block {BLK}",
        "INFO", "dfs.DataNode$BlockReceiver", Fate.DROPPED_DEBUG, (),
        "Reworded and moved to DEBUG.",
        hidden=NewStatement("DEBUG", DATANODE, "Receiving an empty packet or the end of the block {eblk}",
                            "Receiving an empty packet or the end of the block <*>",
                            "server/datanode/BlockReceiver.java:582",
                            "Receiving an empty packet or the end of the block {block}"),
    ),
    Rule(
        "E14", "<*>Exception in receiveBlock for block<*>", rf"Exception in receiveBlock for block {BLK}(?P<exc>.*)",
        "INFO", "dfs.DataNode$BlockReceiver", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "Exception for {eblk}", "Exception for <*>",
                      "server/datanode/BlockReceiver.java:942", "Exception for {block} (exception as throwable)"),),
        "Shortened; the exception moved to the stack-trace lines.",
    ),
    Rule(
        "E15", "<*>Changing block file offset of block<*>from<*>to<*>meta file offset to<*>",
        rf"Changing block file offset of block {BLK} from \d+ to \d+ meta file offset to \d+",
        "INFO", "dfs.DataNode$BlockReceiver", Fate.DROPPED_DEBUG, (),
        "Only the meta-file offset change is logged, at DEBUG.",
        hidden=NewStatement("DEBUG", FSDATASET, "Changing meta file offset of block {eblk} from {old} to {new}",
                            "Changing meta file offset of block <*> from <*> to <*>",
                            "server/datanode/fsdataset/impl/FsDatasetImpl.java:1566",
                            "Changing meta file offset of block {b} from {oldPos} to {newPos}"),
    ),
    Rule(
        "E16", "<*>:Transmitted block<*>to<*>", rf"(?P<dn>{ADDR}):Transmitted block {BLK} to /(?P<tgt>{ADDR})",
        "INFO", "dfs.DataNode$DataTransfer", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "DataTransfer: Transmitted {eblk} (numBytes={numbytes}) to /{tgt}",
                      "DataTransfer: Transmitted <*> (numBytes=<*>) to <*>", "server/datanode/DataNode.java:2167",
                      "{getClass().getSimpleName()}: Transmitted {b} (numBytes={b.getNumBytes()}) to {curTarget}"),),
        "Prefixed by the class instead of the datanode; the size is printed.",
    ),
    Rule(
        "E17", "<*>:Failed to transfer<*>to<*>got<*>",
        rf"(?P<dn>{ADDR}):Failed to transfer {BLK} to (?P<tgt>{ADDR}) got (?P<exc>.*)",
        "WARN", "dfs.DataNode$DataTransfer", Fate.REWORDED,
        (NewStatement("WARN", DATANODE, "{dnreg}:Failed to transfer {eblk} to {tgt} got ",
                      "<*>:Failed to transfer <*> to <*> got", "server/datanode/DataNode.java:2196",
                      "{bpReg}:Failed to transfer {b} to {targets[0]} got  (exception as throwable)"),),
        "Full datanode registration; exception as throwable.",
    ),
    Rule(
        "E18", "<*>Starting thread to transfer block<*>to<*>",
        rf"(?P<dn>{ADDR}) Starting thread to transfer block {BLK} to (?P<targets>.*)",
        "INFO", "dfs.DataNode", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "{dnreg} Starting thread to transfer {eblk} to {targets}",
                      "<*> Starting thread to transfer <*> to <*>", "server/datanode/DataNode.java:1959",
                      "{bpReg} Starting thread to transfer {block} to {xfersBuilder}"),),
        "Full datanode registration; targets separated by spaces instead of commas.",
    ),
    Rule(
        "E19", "<*>Reopen Block<*>", rf"Reopen Block {BLK}.*",
        "INFO", "dfs.FSDataset", Fate.SPLIT,
        (NewStatement("INFO", FSDATASET, "Recover RBW replica {eblk}", "Recover RBW replica <*>",
                      "server/datanode/fsdataset/impl/FsDatasetImpl.java:1341", "Recover RBW replica {b}"),
         NewStatement("INFO", FSDATASET, "Recovering ReplicaBeingWritten, {blk}, RBW",
                      "Recovering ReplicaBeingWritten, <*>, RBW",
                      "server/datanode/fsdataset/impl/FsDatasetImpl.java:1352",
                      "Recovering {rbw} (first line of ReplicaInfo.toString)")),
        "Pipeline recovery of a replica being written (recoverRbw) prints two statements; the "
        "replica's multi-line description is kept to its first line.",
    ),
    Rule(
        "E20", "<*>Unexpected error trying to delete block<*>BlockInfo not found in volumeMap<*>",
        rf"Unexpected error trying to delete block {BLK}\. BlockInfo not found in volumeMap\.",
        "WARN", "dfs.FSDataset", Fate.REWORDED,
        (NewStatement("INFO", FSDATASET, "Failed to delete replica {blk}: ReplicaInfo not found.",
                      "Failed to delete replica <*>: ReplicaInfo not found.",
                      "server/datanode/fsdataset/impl/FsDatasetImpl.java:1914",
                      "Failed to delete replica {invalidBlks[i]}: ReplicaInfo not found."),),
        "Reworded and lowered from WARN to INFO (a replica deleted earlier is normal).",
    ),
    Rule(
        "E21", "<*>Deleting block<*>file<*>", rf"Deleting block {BLK} file (?P<path>\S+)",
        "INFO", "dfs.FSDataset", Fate.SPLIT,
        (NewStatement("INFO", ASYNC_DISK, "Scheduling {blk} file {block_file} for deletion",
                      "Scheduling <*> file <*> for deletion",
                      "server/datanode/fsdataset/impl/FsDatasetAsyncDiskService.java:217",
                      "Scheduling {block.getLocalBlock()} file {blockFile} for deletion"),
         NewStatement("INFO", ASYNC_DISK, "Deleted {bpid} {blk} file {block_file}", "Deleted <*> <*> file <*>",
                      "server/datanode/fsdataset/impl/FsDatasetAsyncDiskService.java:307",
                      "Deleted {block.getBlockPoolId()} {block.getLocalBlock()} file {blockFile}")),
        "Deletion is asynchronous: one line when scheduled, one when done; replica files live "
        "under the block pool's finalized/subdir<d1>/subdir<d2> (block-id based layout).",
    ),
    Rule(
        "E22", "<*>BLOCK* NameSystem<*>allocateBlock:<*>",
        rf"BLOCK\* NameSystem\.allocateBlock: (?P<path>\S+?)\.? {BLK}",
        "INFO", "dfs.FSNamesystem", Fate.REWORDED,
        (NewStatement("INFO", STATE_CHANGE, "BLOCK* allocate {allocated} for {path}",
                      "BLOCK* allocate <*> for <*>", "server/namenode/FSNamesystem.java:3547",
                      "BLOCK* allocate {b} for {src}"),),
        "The block under construction prints its state and expected replicas (storage ids); the "
        "state-change logger has its own name.",
    ),
    Rule(
        "E23", "<*>BLOCK* NameSystem<*>delete:<*>is added to invalidSet of<*>",
        rf"BLOCK\* NameSystem\.delete: {BLK} is added to invalidSet of (?P<dn>{ADDR})",
        "INFO", "dfs.FSNamesystem", Fate.MERGED,
        (NewStatement("INFO", BLOCK_STATE_CHANGE, "BLOCK* addToInvalidates: {blk} {datanodes}",
                      "BLOCK* addToInvalidates: <*> <*>", "server/blockmanagement/BlockManager.java:1168",
                      "BLOCK* addToInvalidates: {b} {datanodes}"),),
        "When a file is deleted, one line per block lists all its datanodes (the per-datanode "
        "InvalidateBlocks statement is not logged on this path): the old lines of a block at the "
        "same second become one line.",
    ),
    Rule(
        "E24", "<*>BLOCK* Removing block<*>from neededReplications as it does not belong to any file<*>",
        rf"BLOCK\* Removing block {BLK} from neededReplications as it does not belong to any file\.?",
        "INFO", "dfs.FSNamesystem", Fate.DROPPED_REMOVED, (),
        "BlockManager.computeReplicationWorkForBlocks removes an abandoned block from "
        "neededReplications without logging (server/blockmanagement/BlockManager.java:1413).",
    ),
    Rule(
        "E25", "<*>BLOCK* ask<*>to replicate<*>to<*>",
        rf"BLOCK\* ask (?P<dn>{ADDR}) to replicate {BLK} to datanode\(s\) (?P<targets>.*)",
        "INFO", "dfs.FSNamesystem", Fate.REWORDED,
        (NewStatement("INFO", BLOCK_STATE_CHANGE, "BLOCK* ask {dn} to replicate {blk} to datanode(s) {targets}",
                      "BLOCK* ask <*> to replicate <*> to datanode(s) <*>",
                      "server/blockmanagement/BlockManager.java:1564",
                      "BLOCK* ask {rw.srcNode} to replicate {rw.block} to {targetList}"),),
        "Same wording; block-state logger; targets each followed by a space.",
    ),
    Rule(
        "E26", "<*>BLOCK* NameSystem<*>addStoredBlock: blockMap updated:<*>is added to<*>size<*>",
        rf"BLOCK\* NameSystem\.addStoredBlock: blockMap updated: (?P<dn>{ADDR}) is added to {BLK} size (?P<size>\d+)",
        "INFO", "dfs.FSNamesystem", Fate.REWORDED,
        (NewStatement("INFO", BLOCK_STATE_CHANGE, "BLOCK* addStoredBlock: blockMap updated: {dn} is added to "
                      "{stored} size {size}", "BLOCK* addStoredBlock: blockMap updated: <*> is added to <*> size <*>",
                      "server/blockmanagement/BlockManager.java:2639",
                      "BLOCK* addStoredBlock: blockMap updated: {node} is added to {storedBlock} size "
                      "{storedBlock.getNumBytes()}"),),
        "'NameSystem.' dropped; a block still under construction prints its state and replicas "
        "(the write pipeline's first reports), a complete one only its id.",
    ),
    Rule(
        "E27", "<*>BLOCK* NameSystem<*>addStoredBlock: Redundant addStoredBlock request received for<*>on<*>size<*>",
        rf"BLOCK\* NameSystem\.addStoredBlock: Redundant addStoredBlock request received for {BLK} on "
        rf"(?P<dn>{ADDR}) size (?P<size>\d+)",
        "WARN", "dfs.FSNamesystem", Fate.DROPPED_DEBUG, (),
        "Moved from WARN to DEBUG.",
        hidden=NewStatement("DEBUG", BLOCK_STATE_CHANGE, "BLOCK* addStoredBlock: Redundant addStoredBlock request "
                            "received for {blk} on node {dn} size {size}",
                            "BLOCK* addStoredBlock: Redundant addStoredBlock request received for <*> on node <*> "
                            "size <*>", "server/blockmanagement/BlockManager.java:2574",
                            "BLOCK* addStoredBlock: Redundant addStoredBlock request received for {storedBlock} "
                            "on node {node} size {storedBlock.getNumBytes()}"),
    ),
    Rule(
        "E28", "<*>BLOCK* NameSystem<*>addStoredBlock: addStoredBlock request received for<*>on<*>size<*>But it does "
               "not belong to any file.",
        rf"BLOCK\* NameSystem\.addStoredBlock: addStoredBlock request received for {BLK} on (?P<dn>{ADDR}) size "
        rf"(?P<size>\d+) But it does not belong to any file\.",
        "INFO", "dfs.FSNamesystem", Fate.REWORDED,
        (NewStatement("INFO", BLOCK_STATE_CHANGE, "BLOCK* addStoredBlock: {blk} on {dn} size {size} but it does not "
                      "belong to any file", "BLOCK* addStoredBlock: <*> on <*> size <*> but it does not belong to any "
                      "file", "server/blockmanagement/BlockManager.java:2544",
                      "BLOCK* addStoredBlock: {block} on {node} size {block.getNumBytes()} but it does not belong "
                      "to any file"),),
        "Shortened; lower-case 'but', no final period.",
    ),
    Rule(
        "E29", "<*>PendingReplicationMonitor timed out block<*>", rf"PendingReplicationMonitor timed out block {BLK}",
        "WARN", "dfs.FSNamesystem", Fate.REWORDED,
        (NewStatement("WARN", BLOCK_MANAGER, "PendingReplicationMonitor timed out {blk}",
                      "PendingReplicationMonitor timed out <*>",
                      "server/blockmanagement/PendingReplicationBlocks.java:249",
                      "PendingReplicationMonitor timed out {block}"),),
        "'block' dropped from the wording; logged through BlockManager's logger.",
    ),
    Rule(
        "E30", "<*>BLOCK* ask <*> to delete <*>", rf"BLOCK\* ask (?P<dn>{ADDR}) to delete (?P<blocks>.*)",
        "INFO", "dfs.FSNamesystem", Fate.REWORDED,
        (NewStatement("INFO", BLOCK_STATE_CHANGE, "BLOCK* BlockManager: ask {dn} to delete {block_list}",
                      "BLOCK* BlockManager: ask <*> to delete <*>", "server/blockmanagement/BlockManager.java:3480",
                      "BLOCK* {getClass().getSimpleName()}: ask {dn} to delete {toInvalidate}"),),
        "Names the block manager; the blocks are printed as a Java list.",
    ),
)
