"""How Apache Hadoop 3.3.6 logs each of the 30 HDFS events that Hadoop 0.18 logged in 2008.

The second release variant of the HDFS real-upgrade benchmark, beside ``hdfs_rules.py``
(Apache Hadoop 2.7.7): the same table, read by ``make_hdfs.py --release 3.3.6``. The old templates
and old patterns are the 2.7.7 table's; the new statements are the 3.3.6 release's, read in its
source. Only the release's message format strings are recorded (the facts being studied), in the
same neutral ``{name}`` notation; no Hadoop code is copied.

Hadoop 3 moved most of the namenode's per-block messages (``BlockStateChange``) to DEBUG: the
default ``log4j.properties`` only says how to turn them back on ("Uncomment the following to log
normal block state change messages"). Of the namenode's 2008 events, only the allocation of a
block (``BLOCK* allocate``) and the pending-reconstruction time-out are still logged at INFO/WARN.
"""

from __future__ import annotations

import hdfs_rules
from hdfs_rules import (
    ASYNC_DISK,
    BLOCK_MANAGER,
    BLOCK_STATE_CHANGE,
    CLIENT_TRACE,
    DATANODE,
    FSDATASET,
    STATE_CHANGE,
    VOLUME_SCANNER,
    Fate,
    NewStatement,
    Rule,
)

RELEASE = {
    "name": "Apache Hadoop 3.3.6",
    "repository": "OrderLab/hadoop-3.3.6",
    # The repository's import commit ("v3.3.6"), the 3.3.6 source tree (pom version 3.3.6); its
    # later commits only touch MapReduce examples. Cross-checked against turboic/hadoop-3.3.6 @
    # 9b9656627476b51fd57d773c3912388e2ec80100 (another copy of the 3.3.6 tree): the same
    # hadoop-hdfs/src/main/java tree object (85d1315b591f2ae6b2a25b2b70d6120087ede891).
    "commit": "4de377bdb40887cfd6aa0e49702d41a45d3a5951",
    "pom_version": "3.3.6",
    "source_root": "hadoop-hdfs-project/hadoop-hdfs/src/main/java/org/apache/hadoop/hdfs/",
    # hadoop-common-project/hadoop-common/src/main/conf/log4j.properties:45, appender RFA.
    "layout": "%d{ISO8601} %p %c: %m%n",
}

# Logger names (log4j %c): the same classes as in 2.7.7, imported from hdfs_rules.

# The synthetic cluster as a freshly formatted 3.3.6 cluster prints it. Same namespace, pool and
# block-id scheme as the 2.7.7 variant, with the 3.x defaults read in the source.
CLUSTER = {
    "namenode_ip": "10.250.0.1",
    "block_pool_random": 1336578361,
    "block_pool_millis": 1226262600000,
    "namespace_id": 1911380736,
    # NNStorage.newNamespaceInfo (server/namenode/NNStorage.java:620) formats with cTime = now
    # (2.x: 0), which every DatanodeRegistration prints as c=: the cluster's start.
    "ctime": 1226262600000,
    # DataNodeLayoutVersion BLOCKID_BASED_LAYOUT_32_by_32 (-57), the newest in 3.3.6
    # (server/datanode/DataNodeLayoutVersion.java:69): replica dirs subdir<0..31>/subdir<0..31>
    # (DatanodeUtil.idToBlockDir, server/datanode/DatanodeUtil.java:122, masks 0x1F).
    "datanode_layout_version": -57,
    "subdir_mask": 0x1F,
    # DFSConfigKeys (DFSConfigKeys.java:822/887/962): dfs.datanode.address, .http.address and
    # .ipc.address default to 9866/9864/9867 (2.x: 50010/50075/50020). The 2008 lines name the
    # datanodes by ip:50010; the 3.x cluster prints them as ip:9866.
    "xfer_port": 9866,
    "info_port": 9864,
    "ipc_port": 9867,
    # SequentialBlockIdGenerator.LAST_RESERVED_BLOCK_ID = 2**30, GenerationStamp.LAST_RESERVED_STAMP = 1000.
    "first_block_id": 1073741825,
    "first_generation_stamp": 1001,
    "block_id_spacing": 50,
}

# Fields the generator derives for a line, by name (documentation for ``message`` strings); those
# of hdfs_rules.FIELDS, with every datanode transfer address ip:50010 printed as ip:9866, and:
FIELDS = {
    "blk": "Block.toString: blk_<id>_<genstamp>",
    "eblk": "ExtendedBlock.toString: <block pool id>:blk_<id>_<genstamp>",
    "bpid": "block pool id BP-<random>-<namenode ip>-<creation millis>",
    "dn, dest, mirror, tgt": "datanode transfer address ip:9866 (the old line's ip:50010)",
    "dnreg": "DatanodeRegistration.toString: (ip:9866, datanodeUuid, infoPort=9864, infoSecurePort=0, "
             "ipcPort=9867, storageInfo=lv=-57;cid;nsid;c=<format millis>)",
    "responder": "PacketResponder.toString (3.x): PacketResponder: <eblk>, type=LAST_IN_PIPELINE, or "
                 "type=HAS_DOWNSTREAM_IN_PIPELINE, downstreams=<n>:[<ip:9866>, ...] (the last n datanodes of "
                 "the write pipeline)",
    "display": "DataNode.getDisplayName: <host name>:9866 of the datanode that logs (host name = its ip)",
    "xfer_targets": "old target list, ip:9866 joined by single spaces (StringUtils.join)",
    "replicas": "the new block's expected replicas, their datanodes ip:9866 joined by ', ' "
                "(BlockUnderConstructionFeature.appendUCPartsConcise)",
    "block_uri": "the replica file's URI, file:<volume>/current/<bpid>/current/finalized/subdir<d1>/subdir<d2>/"
                 "blk_<id> (32x32 layout)",
    "src, exc, path, size": "copied from the old line",
    "ip_port": "the old line's remote ip with the remote port 3.x prints",
    "srv_id, client, duration": "client-trace record: receiving datanode's uuid, writer, duration in ns",
    "block_list": "old block list as a Java list [blk_.., blk_..]",
    "numbytes": "the block's size, from the block's other lines",
    "datanodes": "every datanode of a merged group, each followed by a space",
}

_OLD = {rule.event: rule for rule in hdfs_rules.RULES}


def _rule(event: str, fate: Fate, new: tuple[NewStatement, ...], note: str,
          hidden: NewStatement | None = None) -> Rule:
    """``event``'s rule: the 2008 side (template, pattern, level, logger) is the 2.7.7 table's, the
    3.3.6 side is given."""
    old = _OLD[event]
    return Rule(event, old.old_template, old.old_pattern, old.old_level, old.old_logger, fate, new, note, hidden)


RULES: tuple[Rule, ...] = (
    _rule(
        "E1", Fate.DROPPED_REMOVED, (),
        "DataBlockScanner is gone since 2.7 (BlockScanner/VolumeScanner, HDFS-7430); 3.3.6 has no such "
        "statement.",
    ),
    _rule(
        "E2", Fate.DROPPED_DEBUG, (),
        "A successful scan is logged at TRACE by VolumeScanner's result handler.",
        hidden=NewStatement("TRACE", VOLUME_SCANNER, "Successfully scanned {eblk} on {volume}",
                            "Successfully scanned <*> on <*>", "server/datanode/VolumeScanner.java:275",
                            "Successfully scanned {block} on {volume}"),
    ),
    _rule(
        "E3", Fate.DROPPED_DEBUG, (),
        "A read is traced only at DEBUG: DataXceiver builds a client-trace HDFS_READ format ('Served "
        "block' without a client name) and BlockSender logs it with ClientTraceLog.debug.",
        hidden=NewStatement("DEBUG", CLIENT_TRACE,
                            "src: /{dn}, dest: /{ip_port}, bytes: {bytes}, op: HDFS_READ, cliID: {client}, offset: "
                            "{offset}, srvID: {srv_id}, blockid: {eblk}, duration(ns): {duration}",
                            "src: <*>, dest: <*>, bytes: <*>, op: HDFS_READ, cliID: <*>, offset: <*>, srvID: <*>, "
                            "blockid: <*>, duration(ns): <*>", "server/datanode/DataXceiver.java:590 (logged at "
                            "server/datanode/BlockSender.java:838)",
                            "DN_CLIENTTRACE_FORMAT with op HDFS_READ (a client's read; '{dnR} Served block {block} "
                            "to {remoteAddress}' only without a client name)"),
    ),
    _rule(
        "E4", Fate.REWORDED,
        (NewStatement("WARN", DATANODE, "{dnreg}:Got exception while serving {eblk} to /{ip_port}",
                      "<*>:Got exception while serving <*> to <*>", "server/datanode/DataXceiver.java:649",
                      "{dnR}:Got exception while serving {block} to {remoteAddress} (exception as throwable)"),),
        "As in 2.7.7: the datanode's full registration, the remote address with its port, the exception "
        "as throwable (a SocketException is logged at TRACE as 'Ignoring exception', a "
        "SocketTimeoutException not at all; the 2008 exception is not in the data, so the line is kept).",
    ),
    _rule(
        "E5", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "Receiving {eblk} src: {src} dest: {dest}",
                      "Receiving <*> src: <*> dest: <*>", "server/datanode/DataXceiver.java:750",
                      "Receiving {block} src: {remoteAddress} dest: {localAddress}"),),
        "'block' dropped from the wording; ExtendedBlock ids; the datanode's port is 9866.",
    ),
    _rule(
        "E6", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "Received {eblk} src: {src} dest: {dest} of size {size}",
                      "Received <*> src: <*> dest: <*> of size <*>", "server/datanode/DataXceiver.java:934",
                      "Received {block} src: {remoteAddress} dest: {localAddress} of size {block.getNumBytes()}"),),
        "'block' dropped from the wording; ExtendedBlock ids.",
    ),
    _rule(
        "E7", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "opWriteBlock {eblk} received exception {exc}",
                      "opWriteBlock <*> received exception <*>", "server/datanode/DataXceiver.java:942",
                      "opWriteBlock {block} received exception {ioe.toString()}"),),
        "Renamed after the data-transfer op; ExtendedBlock ids.",
    ),
    _rule(
        "E8", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "{responder}: Thread is interrupted.",
                      "PacketResponder: <*>, type=<*>: Thread is interrupted.",
                      "server/datanode/BlockReceiver.java:1484", "{myString}: Thread is interrupted."),),
        "The responder names itself by block and pipeline position; in 3.x a responder with "
        "downstream datanodes lists them (2.7.7 printed the list only for the last one, empty).",
    ),
    _rule(
        "E9", Fate.REWORDED,
        (NewStatement("INFO", CLIENT_TRACE,
                      "src: /{ip_port}, dest: /{dest}, bytes: {size}, op: HDFS_WRITE, cliID: {client}, offset: 0, "
                      "srvID: {srv_id}, blockid: {eblk}, duration(ns): {duration}",
                      "src: <*>, dest: <*>, bytes: <*>, op: HDFS_WRITE, cliID: <*>, offset: <*>, srvID: <*>, "
                      "blockid: <*>, duration(ns): <*>", "server/datanode/BlockReceiver.java:1550 (format "
                      "server/datanode/DataNode.java:312)",
                      "src: {inAddr}, dest: {myAddr}, bytes: {block.getNumBytes()}, op: HDFS_WRITE, cliID: "
                      "{clientname}, offset: {offset}, srvID: {dnR.getDatanodeUuid()}, blockid: {block}, "
                      "duration(ns): {endTime - startTime}"),),
        "As in 2.7.7 a client write's last packet is a client-trace record (the clienttrace logger is "
        "at INFO by default), now with 'duration(ns):'. With that logger off the release prints "
        "'Received {eblk} size {size} from {inAddr}' (server/datanode/BlockReceiver.java:1554).",
    ),
    _rule(
        "E10", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "{responder}", "PacketResponder: <*>, type=<*>",
                      "server/datanode/BlockReceiver.java:1468", "{myString} (exception as throwable)"),),
        "Only the responder's name (an error reading the downstream ack); the exception moved to the "
        "stack-trace lines, which (as in loghub) are not kept.",
    ),
    _rule(
        "E11", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "{responder} terminating", "PacketResponder: <*>, type=<*> terminating",
                      "server/datanode/BlockReceiver.java:1523", "{myString} terminating"),),
        "Count 0 is LAST_IN_PIPELINE (no list), more is HAS_DOWNSTREAM_IN_PIPELINE with its "
        "downstream datanodes (downstreams=<n>:[..]).",
    ),
    _rule(
        "E12", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "{dnreg}:Exception writing {eblk} to mirror {mirror}",
                      "<*>:Exception writing <*> to mirror <*>", "server/datanode/BlockReceiver.java:472",
                      "{datanode.getDNRegistrationForBP(bpid)}:Exception writing {block} to mirror {mirrorAddr} "
                      "(exception as throwable)"),),
        "Full datanode registration; 'block' dropped from the wording; exception as throwable.",
    ),
    _rule(
        "E13", Fate.DROPPED_DEBUG, (),
        "Reworded and at DEBUG (guarded by isDebugEnabled).",
        hidden=NewStatement("DEBUG", DATANODE, "Receiving an empty packet or the end of the block {eblk}",
                            "Receiving an empty packet or the end of the block <*>",
                            "server/datanode/BlockReceiver.java:632",
                            "Receiving an empty packet or the end of the block {block}"),
    ),
    _rule(
        "E14", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "Exception for {eblk}", "Exception for <*>",
                      "server/datanode/BlockReceiver.java:1029", "Exception for {block} (exception as throwable)"),),
        "Shortened; the exception moved to the stack-trace lines.",
    ),
    _rule(
        "E15", Fate.DROPPED_DEBUG, (),
        "Only the meta-file offset change is logged, at DEBUG (guarded by isDebugEnabled).",
        hidden=NewStatement("DEBUG", FSDATASET, "Changing meta file offset of block {eblk} from {old} to {new}",
                            "Changing meta file offset of block <*> from <*> to <*>",
                            "server/datanode/fsdataset/impl/FsDatasetImpl.java:1754",
                            "Changing meta file offset of block {b} from {oldPos} to {newPos}"),
    ),
    _rule(
        "E16", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "DataTransfer, at {display}: Transmitted {eblk} (numBytes={numbytes}) to "
                      "/{tgt}", "DataTransfer, at <*>: Transmitted <*> (numBytes=<*>) to <*>",
                      "server/datanode/DataNode.java:2903",
                      "{getClass().getSimpleName()}, at {DataNode.this.getDisplayName()}: Transmitted {b} "
                      "(numBytes={b.getNumBytes()}) to {curTarget}"),),
        "Prefixed by the class and the sending datanode's display name (host:port); the size is printed.",
    ),
    _rule(
        "E17", Fate.REWORDED,
        (NewStatement("WARN", DATANODE, "{dnreg}:Failed to transfer {eblk} to {tgt} got",
                      "<*>:Failed to transfer <*> to <*> got", "server/datanode/DataNode.java:2927",
                      "{bpReg}:Failed to transfer {b} to {targets[0]} got (exception as throwable)"),),
        "Full datanode registration; exception as throwable (an slf4j format: no trailing space).",
    ),
    _rule(
        "E18", Fate.REWORDED,
        (NewStatement("INFO", DATANODE, "{dnreg} Starting thread to transfer {eblk} to {xfer_targets}",
                      "<*> Starting thread to transfer <*> to <*>", "server/datanode/DataNode.java:2682",
                      "{bpReg} Starting thread to transfer {block} to {xferTargetsString}"),),
        "Full datanode registration; targets joined by single spaces.",
    ),
    _rule(
        "E19", Fate.SPLIT,
        (NewStatement("INFO", FSDATASET, "Recover RBW replica {eblk}", "Recover RBW replica <*>",
                      "server/datanode/fsdataset/impl/FsDatasetImpl.java:1508", "Recover RBW replica {b}"),
         NewStatement("INFO", FSDATASET, "At {display}, Recovering ReplicaBeingWritten, {blk}, RBW",
                      "At <*>, Recovering ReplicaBeingWritten, <*>, RBW",
                      "server/datanode/fsdataset/impl/FsDatasetImpl.java:1524",
                      "At {datanode.getDisplayName()}, Recovering {rbw} (first line of ReplicaInfo.toString)")),
        "Pipeline recovery (recoverRbw) prints two statements, the second now naming the datanode; the "
        "replica's multi-line description is kept to its first line.",
    ),
    _rule(
        "E20", Fate.REWORDED,
        (NewStatement("INFO", FSDATASET, "Failed to delete replica {blk}: ReplicaInfo not found.",
                      "Failed to delete replica <*>: ReplicaInfo not found.",
                      "server/datanode/fsdataset/impl/FsDatasetImpl.java:2119",
                      "Failed to delete replica {invalidBlks[i]}: ReplicaInfo not found."),),
        "Reworded and lowered from WARN to INFO (a replica deleted earlier is normal).",
    ),
    _rule(
        "E21", Fate.SPLIT,
        (NewStatement("INFO", ASYNC_DISK, "Scheduling {blk} replica FinalizedReplica, {blk}, FINALIZED",
                      "Scheduling <*> replica FinalizedReplica, <*>, FINALIZED",
                      "server/datanode/fsdataset/impl/FsDatasetAsyncDiskService.java:244",
                      "Scheduling {block.getLocalBlock()} replica {replicaToDelete} for deletion (first line of "
                      "ReplicaInfo.toString)"),
         NewStatement("INFO", ASYNC_DISK, "Deleted {bpid} {blk} URI {block_uri}", "Deleted <*> <*> URI <*>",
                      "server/datanode/fsdataset/impl/FsDatasetAsyncDiskService.java:353",
                      "Deleted {block.getBlockPoolId()} {block.getLocalBlock()} URI {replicaToDelete.getBlockURI()}")),
        "Asynchronous deletion, one line when scheduled, one when done. The scheduling line prints the "
        "replica (a multi-line description, kept to its first line, so ' for deletion' falls on its "
        "last line); the done line prints the replica file as a file: URI under the 32x32 layout.",
    ),
    _rule(
        "E22", Fate.REWORDED,
        (NewStatement("INFO", STATE_CHANGE, "BLOCK* allocate {blk}, replicas={replicas} for {path}",
                      "BLOCK* allocate <*>, replicas=<*> for <*>", "server/namenode/FSDirWriteFileOp.java:802",
                      "BLOCK* allocate {b}, replicas={uc.appendUCPartsConcise} for {src}"),),
        "The block prints its id only, then its expected replicas' datanodes (no UC state, no "
        "storage ids as in 2.7.7); logged by FSDirWriteFileOp.logAllocatedBlock.",
    ),
    _rule(
        "E23", Fate.DROPPED_DEBUG, (),
        "At DEBUG: the one line per deleted block listing its datanodes (2.7.7 INFO, merged) is "
        "blockLog.debug in 3.x.",
        hidden=NewStatement("DEBUG", BLOCK_STATE_CHANGE, "BLOCK* addToInvalidates: {blk} {datanodes}",
                            "BLOCK* addToInvalidates: <*> <*>", "server/blockmanagement/BlockManager.java:1757",
                            "BLOCK* addToInvalidates: {storedBlock} {datanodes}"),
    ),
    _rule(
        "E24", Fate.DROPPED_REMOVED, (),
        "BlockManager.scheduleReconstruction removes an abandoned block from neededReconstruction "
        "without logging (server/blockmanagement/BlockManager.java:2110).",
    ),
    _rule(
        "E25", Fate.DROPPED_DEBUG, (),
        "At DEBUG (2.7.7: INFO): the scheduled reconstruction work is logged only when blockLog is "
        "debug-enabled, the source now an array of datanodes.",
        hidden=NewStatement("DEBUG", BLOCK_STATE_CHANGE, "BLOCK* ask [{dn}] to replicate {blk} to datanode(s) "
                            "{xfer_targets}", "BLOCK* ask <*> to replicate <*> to datanode(s) <*>",
                            "server/blockmanagement/BlockManager.java:2083",
                            "BLOCK* ask {rw.getSrcNodes()} to replicate {rw.getBlock()} to {targetList}"),
    ),
    _rule(
        "E26", Fate.DROPPED_DEBUG, (),
        "Reworded and at DEBUG (2.7.7: INFO 'blockMap updated'): a replica reported to the namenode "
        "is no longer logged by default.",
        hidden=NewStatement("DEBUG", BLOCK_STATE_CHANGE, "BLOCK* addStoredBlock: {dn} is added to {blk} "
                            "(size={size})", "BLOCK* addStoredBlock: <*> is added to <*> (size=<*>)",
                            "server/blockmanagement/BlockManager.java:3527",
                            "BLOCK* addStoredBlock: {node} is added to {storedBlock} (size={storedBlock.getNumBytes()})"),
    ),
    _rule(
        "E27", Fate.DROPPED_DEBUG, (),
        "At DEBUG, as in 2.7.7.",
        hidden=NewStatement("DEBUG", BLOCK_STATE_CHANGE, "BLOCK* addStoredBlock: Redundant addStoredBlock request "
                            "received for {blk} on node {dn} size {size}",
                            "BLOCK* addStoredBlock: Redundant addStoredBlock request received for <*> on node <*> "
                            "size <*>", "server/blockmanagement/BlockManager.java:3541",
                            "BLOCK* addStoredBlock: Redundant addStoredBlock request received for {storedBlock} "
                            "on node {node} size {storedBlock.getNumBytes()}"),
    ),
    _rule(
        "E28", Fate.DROPPED_DEBUG, (),
        "At DEBUG (2.7.7: INFO), same shortened wording.",
        hidden=NewStatement("DEBUG", BLOCK_STATE_CHANGE, "BLOCK* addStoredBlock: {blk} on {dn} size {size} but it "
                            "does not belong to any file", "BLOCK* addStoredBlock: <*> on <*> size <*> but it does "
                            "not belong to any file", "server/blockmanagement/BlockManager.java:3511",
                            "BLOCK* addStoredBlock: {block} on {node} size {block.getNumBytes()} but it does not "
                            "belong to any file"),
    ),
    _rule(
        "E29", Fate.REWORDED,
        (NewStatement("WARN", BLOCK_MANAGER, "PendingReconstructionMonitor timed out {blk}",
                      "PendingReconstructionMonitor timed out <*>",
                      "server/blockmanagement/PendingReconstructionBlocks.java:283",
                      "PendingReconstructionMonitor timed out {block}"),),
        "Replication became reconstruction (erasure coding, HDFS-7285): PendingReplicationBlocks is "
        "PendingReconstructionBlocks; 'block' dropped; BlockManager's logger.",
    ),
    _rule(
        "E30", Fate.DROPPED_DEBUG, (),
        "At DEBUG (2.7.7: INFO): invalidateWorkForOneNode logs the deletion command with blockLog.debug.",
        hidden=NewStatement("DEBUG", BLOCK_STATE_CHANGE, "BLOCK* BlockManager: ask {dn} to delete {block_list}",
                            "BLOCK* BlockManager: ask <*> to delete <*>",
                            "server/blockmanagement/BlockManager.java:4760",
                            "BLOCK* {getClass().getSimpleName()}: ask {dn} to delete {toInvalidate}"),
    ),
)
