package org.lponet.core;

/**
 * The three outputs of an LPONet inference model for one face (batch of one), as flat
 * channel-last arrays exactly as the TFLite tensors hold them (docs/CONVENTIONS.md):
 * {@code heatmaps (h, w, K)}, {@code pose} either a rotation {@code (3, 3)} row-major (6D head)
 * or Euler {@code (yaw, pitch, roll)} degrees (Euler head), {@code occlusion (h, w, 2)} softmax
 * over [not-face, visible-face].
 */
public final class ModelOutputs {
  public final float[] heatmaps;
  public final int gridH;
  public final int gridW;
  public final int numLandmarks;
  public final float[] pose;
  public final float[] occlusion;
  public final int occlusionChannels;

  public ModelOutputs(
      float[] heatmaps, int gridH, int gridW, int numLandmarks, float[] pose, float[] occlusion,
      int occlusionChannels) {
    if (heatmaps.length != gridH * gridW * numLandmarks) {
      throw new IllegalArgumentException("heatmaps size does not match its shape");
    }
    if (pose.length != 9 && pose.length != 3) {
      throw new IllegalArgumentException("pose must be a 3x3 matrix or 3 Euler angles, got " + pose.length);
    }
    if (occlusion.length != gridH * gridW * occlusionChannels) {
      throw new IllegalArgumentException("occlusion size does not match the heatmap grid");
    }
    this.heatmaps = heatmaps;
    this.gridH = gridH;
    this.gridW = gridW;
    this.numLandmarks = numLandmarks;
    this.pose = pose;
    this.occlusion = occlusion;
    this.occlusionChannels = occlusionChannels;
  }

  /** True for the 6D head's rotation-matrix output. */
  public boolean poseIsMatrix() {
    return pose.length == 9;
  }

  /**
   * The pose as a rotation matrix (row-major): the 6D head's output projected onto the nearest
   * rotation (an int8 file's is only near one), or the Euler output converted.
   */
  public double[] rotation() {
    if (poseIsMatrix()) {
      double[] r = new double[9];
      for (int i = 0; i < 9; i++) {
        r[i] = pose[i];
      }
      return Rotations.nearestRotation(r);
    }
    return Rotations.eulerToMatrix(pose[0], pose[1], pose[2]);
  }

  /** The pose as {@code (yaw, pitch, roll)} degrees. */
  public double[] euler() {
    if (poseIsMatrix()) {
      return Rotations.matrixToEuler(rotation());
    }
    return new double[] {pose[0], pose[1], pose[2]};
  }
}
