<?php
sleep(1);
echo "slept\n";
