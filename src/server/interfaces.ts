/** The interfaces a decision can be asked through: a label on metrics and on every logged record. */
export const INTERFACES = ['authzen', 'authzen_batch', 'native', 'native_batch', 'forward_auth', 'grpc', 'grpc_batch', 'envoy', 'mint', 'authzen_search'] as const;
export type Interface = (typeof INTERFACES)[number];

/** The longest interface name: the width of a column of them in text output. */
export const INTERFACE_WIDTH = Math.max(...INTERFACES.map((i) => i.length));
