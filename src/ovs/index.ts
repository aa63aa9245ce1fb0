/** Public surface of the OVSDB client. */
export { OvsdbClient, type ClientOptions, type ClientEvents, type TransactOptions, type WaitForOptions } from './client.js';
export { Monitor, type MonitorMethod, type MonitorRequests, type MonitorTableRequest, type MonitorSelect } from './monitor.js';
export { Replica, type RowChange, type ChangeKind, type ChangeListener } from './replica.js';
export { OpBuilder, opsFor, untypedOps, checkResults, type Operation, type ResultsOf, type WireOperation, type WaitUntil } from './ops.js';
export { NamedUuid, Uuid, namedUuid, uuid, isUuid, OvsdbCodecError } from './codec.js';
export {
  OvsdbError, OvsdbDisconnectedError, OvsdbTimeoutError, OvsdbRpcError, OvsdbOperationError, OvsdbUsageError,
} from './errors.js';
export { OvsdbNotLeaderError, serverDatabases, leadershipProblem } from './cluster.js';
export { RpcConnection, type RpcOptions, type NotificationHandler } from './rpc.js';
export { JsonStreamFramer, JsonFramingError } from './framer.js';
export { parseRemote, splitRemotes, type Remote } from './remote.js';
export type { DatabaseModel, WriteRow, WriteValue, Condition, ConditionFunction, Mutation, Mutator } from './model.js';
export type { DbSchema, TableSchema, ColumnSchema } from './schema.js';
export { parseSchema } from './schema.js';
export { NB, SB, OVS, SERVER, type Nb, type Sb, type Ovs, type Srv } from './models/index.js';
import { NB, OVS, SB } from './models/index.js';
import { opsFor } from './ops.js';

/** Operation builders for the generated databases. */
export const nbOps = opsFor(NB);
export const sbOps = opsFor(SB);
export const ovsOps = opsFor(OVS);
