/** ReplicaAck is one replica that answered (the wire form is dkv.v1.ReplicaAck). */
export interface ReplicaAck {
  nodeId: string;
  fallback: boolean;
  hintedFor?: string;
}

/** Receipt tells a client what its consistency choice bought (SPEC section 3). */
export interface Receipt {
  coordinator: string;
  required: number;
  n: number;
  replicas: ReplicaAck[];
  readRepaired: string[];
  /** version: the dot a write created, as "actor:counter"; absent for reads. */
  version?: string;
}
