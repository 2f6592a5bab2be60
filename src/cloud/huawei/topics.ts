/** The two topics of one device connection (huawei.md section 3.1); `{id}` is the connection's MQTT identity. */

export const dataTopic = (id: string): string => `/huawei/v1/devices/${id}/data/json`;
export const commandTopic = (id: string): string => `/huawei/v1/devices/${id}/command/json`;
