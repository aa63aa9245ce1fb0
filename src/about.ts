/** ovnic's own version and the CNI plugin banner (shared by both entry points without loading either). */
export const OVNIC_VERSION = '0.1.0';
export const CNI_ABOUT = `CNI plugin ovnic v${OVNIC_VERSION}`;
