<?php
// A fatal error (not an exception: nothing could catch it).
trigger_error('a fatal error on purpose', E_USER_ERROR);
echo "never reached\n";
