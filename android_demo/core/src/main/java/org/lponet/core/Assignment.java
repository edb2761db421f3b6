package org.lponet.core;

import java.util.Arrays;

/**
 * Minimum-cost assignment of a rectangular cost matrix, exact at any size, with the answers of
 * {@code scipy.optimize.linear_sum_assignment} (which Python's {@code Tracker} uses): the
 * shortest augmenting path method of Jonker-Volgenant as Crouse describes it (IEEE TAES
 * 52(4), 2016), one Dijkstra search per row with dual potentials, O(rows^2 cols).
 *
 * <p>Where several assignments cost the same, the one chosen follows scipy's rules, so that
 * tied IoUs give the same track ids as Python: the matrix is transposed when it has more rows
 * than columns; columns are scanned in descending index order (a constant matrix gives the
 * identity); among columns at the same distance an unassigned one is preferred; the costs are
 * used as given (not shifted by their minimum, which rounds). Costs must be finite (scipy also
 * takes +inf for a forbidden pair; the tracker never needs one).
 */
final class Assignment {
  private Assignment() {}

  /**
   * The column of each row ({@code -1} for the rows left over when there are more rows than
   * columns) minimising the total cost. Costs must be finite.
   */
  static int[] minimize(double[][] cost) {
    int rows = cost.length, cols = rows == 0 ? 0 : cost[0].length;
    int[] res = new int[rows];
    Arrays.fill(res, -1);
    if (rows == 0 || cols == 0) {
      return res;
    }
    if (rows <= cols) {
      return solve(cost, rows, cols);
    }
    double[][] tr = new double[cols][rows];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        tr[j][i] = cost[i][j];
      }
    }
    int[] rowOfCol = solve(tr, cols, rows);
    for (int j = 0; j < cols; j++) {
      res[rowOfCol[j]] = j;
    }
    return res;
  }

  /** {@code rows <= cols}: every row gets a column. */
  private static int[] solve(double[][] input, int rows, int cols) {
    for (double[] r : input) {
      for (double v : r) {
        if (!Double.isFinite(v)) {
          throw new IllegalArgumentException("assignment costs must be finite");
        }
      }
    }
    // The raw costs, as scipy (1.x) solves them: shifting by the minimum rounds, and two
    // costs that rounding makes equal can flip a tie, and with it a track id.
    double[][] c = input;
    double[] u = new double[rows], v = new double[cols], dist = new double[cols];
    int[] colOfRow = new int[rows], rowOfCol = new int[cols], prev = new int[cols];
    int[] open = new int[cols];
    boolean[] rowSeen = new boolean[rows], colDone = new boolean[cols];
    Arrays.fill(colOfRow, -1);
    Arrays.fill(rowOfCol, -1);
    for (int start = 0; start < rows; start++) {
      // Dijkstra on reduced costs from row `start` to the nearest unassigned column.
      Arrays.fill(rowSeen, false);
      Arrays.fill(colDone, false);
      Arrays.fill(dist, Double.POSITIVE_INFINITY);
      int nOpen = cols;
      for (int k = 0; k < cols; k++) {
        open[k] = cols - 1 - k;
      }
      double reached = 0;
      int row = start, end = -1;
      while (end < 0) {
        rowSeen[row] = true;
        int pick = -1;
        double best = Double.POSITIVE_INFINITY;
        for (int k = 0; k < nOpen; k++) {
          int j = open[k];
          double d = reached + c[row][j] - u[row] - v[j];
          if (d < dist[j]) {
            prev[j] = row;
            dist[j] = d;
          }
          if (dist[j] < best || (dist[j] == best && rowOfCol[j] < 0)) {
            best = dist[j];
            pick = k;
          }
        }
        reached = best;
        int j = open[pick];
        colDone[j] = true;
        open[pick] = open[--nOpen];
        if (rowOfCol[j] < 0) {
          end = j;
        } else {
          row = rowOfCol[j];
        }
      }
      u[start] += reached;
      for (int i = 0; i < rows; i++) {
        if (rowSeen[i] && i != start) {
          u[i] += reached - dist[colOfRow[i]];
        }
      }
      for (int j = 0; j < cols; j++) {
        if (colDone[j]) {
          v[j] -= reached - dist[j];
        }
      }
      // Flip the path's edges: each column on it takes the row it was reached from.
      for (int j = end; ; ) {
        int i = prev[j];
        rowOfCol[j] = i;
        int next = colOfRow[i];
        colOfRow[i] = j;
        if (i == start) {
          break;
        }
        j = next;
      }
    }
    return colOfRow;
  }
}
