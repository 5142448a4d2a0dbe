<?php
// Output buffering: cleaned, flushed and filtered buffers.
ob_start();
echo 'discarded';
ob_end_clean();
ob_start();
echo 'kept,';
ob_end_flush();
ob_start(fn ($buffer) => strtoupper($buffer));
echo 'filtered,';
ob_end_flush();
ob_start();
echo 'left open at the end';
