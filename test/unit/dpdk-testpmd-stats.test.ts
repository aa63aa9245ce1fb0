import { describe, expect, it } from 'vitest';
import { parseTestpmdForwardTotals, parseTestpmdStats } from '../harness/testpmd.js';

// dpdk-testpmd 22.11 output with --stats-period (screen-clearing escapes included)
const OUTPUT = `Set macswap packet forwarding mode
Port 0: 6E:C7:0C:0E:50:0F
\x1b[2J\x1b[1;1H
Port statistics ====================================
  ######################## NIC statistics for port 0  ########################
  RX-packets: 0          RX-missed: 0          RX-bytes:  0
  RX-errors: 0
  RX-nombuf:  0         
  TX-packets: 0          TX-errors: 0          TX-bytes:  0

  Throughput (since last show)
  Rx-pps:            0          Rx-bps:            0
  Tx-pps:            0          Tx-bps:            0
  ############################################################################
\x1b[2J\x1b[1;1H
Port statistics ====================================
  ######################## NIC statistics for port 0  ########################
  RX-packets: 6          RX-missed: 0          RX-bytes:  560
  RX-errors: 0
  RX-nombuf:  0         
  TX-packets: 5          TX-errors: 0          TX-bytes:  470

  Throughput (since last show)
  Rx-pps:            3          Rx-bps:         2968
  Tx-pps:            3          Tx-bps:         2968
  ############################################################################
Telling cores to stop...
Waiting for lcores to finish...

  ---------------------- Forward statistics for port 0  ----------------------
  RX-packets: 9              RX-dropped: 0             RX-total: 9
  TX-packets: 8              TX-dropped: 0             TX-total: 8
  ----------------------------------------------------------------------------

  +++++++++++++++ Accumulated forward statistics for all ports+++++++++++++++
  RX-packets: 9              RX-dropped: 0             RX-total: 9
  TX-packets: 8              TX-dropped: 0             TX-total: 8
  ++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++
`;

describe('testpmd stats parsing', () => {
  it('reads every periodic NIC statistics block in order', () => {
    expect(parseTestpmdStats(OUTPUT)).toEqual([
      { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0 },
      { rxPackets: 6, rxBytes: 560, txPackets: 5, txBytes: 470 },
    ]);
  });

  it('ignores a block cut off mid-write', () => {
    const cut = OUTPUT.slice(0, OUTPUT.lastIndexOf('TX-packets: 5'));
    expect(parseTestpmdStats(cut)).toHaveLength(1);
  });

  it('reads the accumulated totals printed on exit', () => {
    expect(parseTestpmdForwardTotals(OUTPUT)).toEqual({ rxPackets: 9, txPackets: 8 });
    expect(parseTestpmdForwardTotals('no totals')).toBeUndefined();
  });
});
