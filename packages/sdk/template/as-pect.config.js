// as-pect runs assembly/__tests__/*.spec.ts inside Wasm. The SDK's host imports are not
// there in a unit test: logs are dropped, the rest throws.
export default {
  entries: ["assembly/__tests__/**/*.spec.ts"],
  include: ["assembly/__tests__/**/*.include.ts"],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    const deepflow = { wasm_log: () => {} };
    for (const name of ["vm_read_ctx_base", "vm_read_payload", "vm_read_http_req_info", "vm_read_http_resp_info",
      "vm_read_custom_message_info", "host_read_l7_protocol_info", "host_read_str_result"]) {
      deepflow[name] = () => {
        throw new Error(`${name} is not available in a unit test`);
      };
    }
    return instantiate(binary, createImports({ env: { memory }, deepflow }));
  },
  outputBinary: false,
};
