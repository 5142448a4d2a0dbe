<?php
echo "sub index ran: SCRIPT_NAME={$_SERVER['SCRIPT_NAME']} PHP_SELF={$_SERVER['PHP_SELF']}\n";
